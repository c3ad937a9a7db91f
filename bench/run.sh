#!/usr/bin/env bash
# bench/run.sh [--quick]: issue 7's benchmark. Builds vault-ci with the `dist`
# profile (gnu, and static musl when the target can be installed), starts the
# loopback STS peers the tests use (moto over http, https and with SigV4/IAM
# enforcement), times vault-ci against curl's single POST (the floor), the seed's
# assume_role.sh, `aws sts assume-role` and node's @aws-sdk/client-sts with
# hyperfine, measures peak RSS with GNU time, runs issue 13's CI matrix
# (bench/matrix.py: 200 jobs at once against a throttled STS, vault-ci beside
# configure-aws-credentials), and prints a markdown table of medians and ratios
# against the targets.
#
#   --quick  few runs (CI): prints the table; a missed target prints MISSED
#   default  full run: also writes the table into BENCHMARKS.md
#
# Targets are reported, never gated: the exit status is 0 whether or not they
# are met, and non-zero only if the benchmark itself cannot run.
set -euo pipefail

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }

mode=full
case "${1:-}" in
  --quick) mode=quick ;;
  '' | --full) ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

if [ "$mode" = quick ]; then
  rounds=2 runs=5 slow_runs=3 warmup=1 rss_runs=3
else
  rounds=5 runs=20 slow_runs=10 warmup=3 rss_runs=7
fi

bench=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$bench")
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
musl=x86_64-unknown-linux-musl

say() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

# Commands are handed to hyperfine as strings and split on blanks, so the paths
# they name must not contain any.
case "$root$target_dir${TMPDIR:-/tmp}" in
  *[[:space:]]*) die "run it from a path without spaces (repo, CARGO_TARGET_DIR, TMPDIR)" ;;
esac

started=$(now)

# ---------------------------------------------------------------- tools
apt_missing=()
command -v hyperfine >/dev/null || apt_missing+=(hyperfine)
[ -x /usr/bin/time ] || apt_missing+=(time)
command -v jq >/dev/null || apt_missing+=(jq)
command -v curl >/dev/null || apt_missing+=(curl)
command -v file >/dev/null || apt_missing+=(file)
command -v wrk >/dev/null || apt_missing+=(wrk)
command -v node >/dev/null || apt_missing+=(nodejs npm)
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing ${apt_missing[*]} (apt)"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

scripts/install-test-peers.sh

node_ok=1
if [ ! -f bench/node/node_modules/.package-lock.json ] ||
  [ bench/node/package-lock.json -nt bench/node/node_modules/.package-lock.json ]; then
  say "installing @aws-sdk/client-sts (npm ci in bench/node)"
  (cd bench/node && npm ci --no-audit --no-fund --loglevel=error) || node_ok=0
fi
[ "$node_ok" = 1 ] || say "npm ci failed: the node rows are skipped"

hyperfine=$(command -v hyperfine)

# The aws CLI itself, not a version manager's shim in front of it.
aws_bin=$(command -v aws)
py_bin_dir=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
[ -x "$py_bin_dir/aws" ] && aws_bin=$py_bin_dir/aws

# ---------------------------------------------------------------- build
work=$(mktemp -d "${TMPDIR:-/tmp}/vault-ci-bench.XXXXXX")
res=$target_dir/bench-results/$mode
rm -rf "$res"
mkdir -p "$res/rounds" "$work/home" "$work/cwd" "$work/tls"
facts=$res/facts.tsv
: >"$facts"
fact() { printf '%s\t%s\n' "$1" "$2" >>"$facts"; }

say "cargo build --profile dist (gnu) into $target_dir"
t=$(now)
cargo build --locked --quiet --profile dist
fact build_gnu_s "$(secs_since "$t")"
gnu_bin=$target_dir/dist/vault-ci

musl_bin=
if ! rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  say "rustup target add $musl"
  rustup target add "$musl" >/dev/null 2>&1 || say "cannot add $musl: no static build"
fi
if rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  if [ -z "${CC_x86_64_unknown_linux_musl:-}" ]; then
    if command -v musl-gcc >/dev/null; then
      export CC_x86_64_unknown_linux_musl=musl-gcc
    else
      export CC_x86_64_unknown_linux_musl=gcc
    fi
  fi
  say "cargo build --profile dist --target $musl (CC=$CC_x86_64_unknown_linux_musl)"
  t=$(now)
  if cargo build --locked --quiet --profile dist --target "$musl"; then
    fact build_musl_s "$(secs_since "$t")"
    musl_bin=$target_dir/$musl/dist/vault-ci
  else
    say "the musl build failed: no static binary"
  fi
fi
# The shipped artefact is the static binary; the gnu one is measured beside it.
bin=${musl_bin:-$gnu_bin}

fact size_gnu "$(stat -c %s "$gnu_bin")"
fact file_gnu "$(file -b "$gnu_bin")"
if [ -n "$musl_bin" ]; then
  fact size_musl "$(stat -c %s "$musl_bin")"
  fact file_musl "$(file -b "$musl_bin")"
fi
[ -f "$target_dir/release/vault-ci" ] && fact size_release "$(stat -c %s "$target_dir/release/vault-ci")"

# ---------------------------------------------------------------- peers
peer_pids=()
peer_fds=()
declare -A peer_pid=()
cleanup() {
  local fd pid
  for fd in "${peer_fds[@]}"; do exec {fd}>&-; done
  for pid in "${peer_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_peer NAME ARGS...: runs `peer.py ARGS` in the background with its
# stdin on a FIFO held open by this script (a peer serves until that EOF).
start_peer() {
  local name=$1 fd
  shift
  mkfifo "$work/$name.in"
  python3 tests/peers/peer.py "$@" <"$work/$name.in" >"$work/$name.ready" 2>"$work/$name.log" &
  peer_pids+=("$!")
  peer_pid[$name]=$!
  exec {fd}>"$work/$name.in"
  peer_fds+=("$fd")
}
# ready NAME: waits for the peer's JSON ready line and prints it.
ready() {
  local i
  for ((i = 0; i < 600; i++)); do
    if [ -s "$work/$1.ready" ]; then
      head -n 1 "$work/$1.ready"
      return 0
    fi
    kill -0 "${peer_pid[$1]}" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/$1.log" >&2
  die "peer $1 did not become ready"
}

say "starting the STS peers (moto: http, https, http with SigV4 + IAM)"
start_peer plain moto -v
start_peer tls moto -v --tls "$work/tls"
start_peer auth moto -v --auth
plain=$(ready plain)
tls=$(ready tls)
auth=$(ready auth)

plain_ep=$(jq -r .endpoint <<<"$plain")
tls_ep=$(jq -r .endpoint <<<"$tls")
ca=$(jq -r .ca_bundle <<<"$tls")
auth_ep=$(jq -r .endpoint <<<"$auth")
gha=$(jq -r '.roles["gha-deploy"]' <<<"$plain")
cfn=$(jq -r .roles.cfn <<<"$plain")
deploy=$(jq -r .roles.deploy <<<"$auth")
key_id=$(jq -r .deploy_user.access_key_id <<<"$auth")
secret=$(jq -r .deploy_user.secret_access_key <<<"$auth")

token=$work/token.jwt
printf '%s' "$(python3 tests/peers/peer.py mint-token --aud sts.amazonaws.com --exp-in 7200)" >"$token"

# Every contender runs with the same clean environment: nothing from this
# machine (AWS_PROFILE, AWS_CA_BUNDLE, SSL_CERT_FILE, proxies, CI variables),
# no instance-metadata probing, a temporary HOME, the peer as endpoint.
clean_env=(env -i
  "PATH=$(dirname "$aws_bin"):/usr/local/bin:/usr/bin:/bin"
  "HOME=$work/home" "TMPDIR=$work" LANG=C.UTF-8
  "AWS_CONFIG_FILE=$work/home/aws-config" "AWS_SHARED_CREDENTIALS_FILE=$work/home/aws-credentials"
  AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  ROLE_SESSION_NAME=bench)
env_plain=("${clean_env[@]}" "AWS_ENDPOINT_URL=$plain_ep")
env_tls=("${clean_env[@]}" "AWS_ENDPOINT_URL=$tls_ep" "AWS_CA_BUNDLE=$ca" "NODE_EXTRA_CA_CERTS=$ca")
env_auth=("${clean_env[@]}" "AWS_ENDPOINT_URL=$auth_ep"
  "AWS_ACCESS_KEY_ID=$key_id" "AWS_SECRET_ACCESS_KEY=$secret" "AWS_DEPLOY_IAM_ROLE_ARN=$deploy")

# ---------------------------------------------------------------- contenders
# group id label command; the group picks the environment and the peer.
contenders=$res/contenders.tsv
: >"$contenders"
add() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$contenders"; }

wi_form="-d Action=AssumeRoleWithWebIdentity -d Version=2011-06-15 -d RoleSessionName=bench -d DurationSeconds=900 --data-urlencode RoleArn=$gha --data-urlencode WebIdentityToken@$token"
vault_wi="assume --token-file $token --role-arn $gha --session-name bench --format json"
node_wi="node $bench/node/sts.mjs web-identity $token $gha"

add http wi_vault "vault-ci${musl_bin:+ (musl static)}" "$bin $vault_wi"
[ -n "$musl_bin" ] && add http wi_vault_gnu "vault-ci (gnu)" "$gnu_bin $vault_wi"
add http wi_curl "curl, one POST (floor)" "curl -sS --fail -o /dev/null $wi_form $plain_ep/"
[ "$node_ok" = 1 ] && add http wi_node "node @aws-sdk/client-sts" "$node_wi"

add tls tls_vault "vault-ci${musl_bin:+ (musl static)}" "$bin $vault_wi"
add tls tls_curl "curl --cacert, one POST (floor)" "curl -sS --fail -o /dev/null --cacert $ca $wi_form $tls_ep/"
[ "$node_ok" = 1 ] && add tls tls_node "node @aws-sdk/client-sts" "$node_wi"

add static st_vault "vault-ci --env-file" "$bin assume --role-arn $deploy --session-name bench --env-file $work/cwd/vault-env.sh"
add static st_seed "seed assume_role.sh (aws CLI v1 + jq)" "$bench/assume_role.sh"
add static st_aws "aws sts assume-role" "aws sts assume-role --role-arn $deploy --role-session-name bench --duration-seconds 900 --output json"
[ "$node_ok" = 1 ] && add static st_node "node @aws-sdk/client-sts" "node $bench/node/sts.mjs assume-role $deploy $work/cwd/node-env.sh"

add chain ch1 "web identity: gha-deploy (1 hop)" "$bin $vault_wi"
add chain ch2 "web identity: gha-deploy → cfn (2 hops)" "$bin $vault_wi --chain $cfn"
add chain ch3 "web identity: gha-deploy → cfn → cfn (3 hops)" "$bin $vault_wi --chain $cfn,$cfn"
add chainauth cs1 "deploy-user → deploy (1 hop)" "$bin assume --role-arn $deploy --session-name bench --format json"
add chainauth cs2 "deploy-user → deploy → cfn (2 hops)" "$bin assume --role-arn $deploy --chain $cfn --session-name bench --format json"

group_env() {
  case "$1" in
    http | chain) genv=("${env_plain[@]}") ;;
    tls) genv=("${env_tls[@]}") ;;
    static | chainauth) genv=("${env_auth[@]}") ;;
  esac
}
group_log() {
  case "$1" in
    http | chain) echo "$work/plain.log" ;;
    tls) echo "$work/tls.log" ;;
    static | chainauth) echo "$work/auth.log" ;;
  esac
}
posts() { grep -c '"POST ' "$1" || true; }

# ---------------------------------------------------------------- checks
# Each contender runs once and must deliver credentials; the chains also show
# the final role and how many STS requests the peer saw.
say "checking every contender once"
requests=$res/requests.tsv
: >"$requests"
while IFS=$'\t' read -r group id label cmd; do
  group_env "$group"
  read -r -a argv <<<"$cmd"
  log=$(group_log "$group")
  before=$(posts "$log")
  (cd "$work/cwd" && "${genv[@]}" "${argv[@]}" >"$work/out" 2>"$work/err") ||
    { cat "$work/err" >&2; die "$label failed: $cmd"; }
  sleep 0.3 # the peer logs a request after answering it
  after=$(posts "$log")
  case "$id" in
    wi_curl | tls_curl) : ;;
    st_vault) grep -q '^export AWS_SESSION_TOKEN=' "$work/cwd/vault-env.sh" || die "$label wrote no env file" ;;
    st_seed) grep -q '^export AWS_SESSION_TOKEN="FQ' "$work/cwd/aws-env.sh" || die "$label wrote no aws-env.sh" ;;
    st_node) grep -q '^export AWS_SESSION_TOKEN="FQ' "$work/cwd/node-env.sh" || die "$label wrote no env file" ;;
    *) grep -q 'SecretAccessKey' "$work/out" || die "$label printed no credentials" ;;
  esac
  case "$id" in
    ch* | cs*)
      hops=${id:2}
      want=cfn
      [ "$id" = cs1 ] && want=deploy
      [ "$id" = ch1 ] && want='gha-deploy'
      arn=$(jq -r .RoleArn "$work/out")
      case "$arn" in
        *":assumed-role/$want/"*) ;;
        *) die "$label ended as $arn, not $want" ;;
      esac
      printf '%s\t%s\t%s\t%s\n' "$id" "$hops" "$((after - before))" "$arn" >>"$requests"
      ;;
  esac
done <"$contenders"

# ---------------------------------------------------------------- timing
# Rounds interleave the contenders (hyperfine runs one command's runs back to
# back): every round runs every group, and medians pool all rounds.
say "timing: $rounds rounds of ${runs} runs (${slow_runs} for the aws CLI group), warm-up $warmup"
for ((r = 1; r <= rounds; r++)); do
  for group in http tls static chain chainauth; do
    group_env "$group"
    n=$runs
    [ "$group" = static ] && n=$slow_runs
    args=()
    while IFS=$'\t' read -r g id _ cmd; do
      [ "$g" = "$group" ] && args+=(-n "$id" "$cmd")
    done <"$contenders"
    (cd "$work/cwd" && "${genv[@]}" "$hyperfine" -N --style none --warmup "$warmup" --runs "$n" \
      --export-json "$res/rounds/$group.$r.json" "${args[@]}" >/dev/null 2>>"$res/hyperfine.log") ||
      { cat "$res/hyperfine.log" >&2; die "hyperfine failed on the $group group"; }
  done
  say "round $r/$rounds done ($(secs_since "$started") s so far)"
done

# ---------------------------------------------------------------- peak RSS
say "peak RSS: GNU time, $rss_runs runs each"
rss=$res/rss.tsv
: >"$rss"
while IFS=$'\t' read -r group id _ cmd; do
  group_env "$group"
  read -r -a argv <<<"$cmd"
  for ((i = 0; i < rss_runs; i++)); do
    (cd "$work/cwd" && "${genv[@]}" /usr/bin/time -f %M -o "$work/rss" "${argv[@]}" >/dev/null 2>&1)
    printf '%s\t%s\n' "$id" "$(tail -n 1 "$work/rss")" >>"$rss"
  done
done <"$contenders"

# ---------------------------------------------------------------- --refresh
# The endpoint answers from memory: wrk's rate, and the STS requests the peer
# saw while it served (the one before it is the initial exchange).
if command -v wrk >/dev/null; then
  say "--refresh endpoint: wrk, 2 threads, 8 connections, 3 s"
  before=$(posts "$work/plain.log")
  # shellcheck disable=SC2016 # expanded by the command vault-ci runs, not here
  (cd "$work/cwd" && "${env_plain[@]}" "$bin" assume --token-file "$token" --role-arn "$gha" \
    --session-name bench --refresh -- sh -c \
    'wrk -t 2 -c 8 -d 3s -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"' \
    >"$work/wrk" 2>/dev/null) || die "the --refresh run failed"
  sleep 0.3
  after=$(posts "$work/plain.log")
  fact refresh_rps "$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk")"
  fact refresh_sts_calls "$((after - before - 1))"
fi
[ -f "$target_dir/image-size" ] && fact image_bytes "$(cat "$target_dir/image-size")"

# ---------------------------------------------------------------- CI matrix
# Issue 13: N jobs at once against a 50 requests/s STS quota, vault-ci and
# configure-aws-credentials (found in shared/peers/ beside the repository, or
# VAULT_CI_CAC_DIR); --quick runs 50 jobs against a quarter of the quota.
# The already-started batch holds each job at its first connect() by LD_PRELOAD,
# which needs the dynamically linked (gnu) build.
matrix_args=(--vault-ci "$bin" --warm-vault-ci "$gnu_bin" --out "$res/matrix")
[ "$mode" = quick ] && matrix_args+=(--quick)
say "CI matrix: bench/matrix.py ${matrix_args[*]}"
t=$(now)
python3 "$bench/matrix.py" "${matrix_args[@]}" >/dev/null || die "bench/matrix.py failed"
fact matrix_s "$(secs_since "$t")"

# ---------------------------------------------------------------- facts
fact mode "$mode"
fact rounds "$rounds"
fact runs "$runs"
fact slow_runs "$slow_runs"
fact date "$(date -u +%Y-%m-%dT%H:%MZ)"
fact nproc "$(nproc)"
fact memory "$(free -h | awk '/^Mem:/ { print $2 }')"
fact cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
fact kernel "$(uname -sr)"
fact vault_ci "$("$bin" --version)"
fact rustc "$(rustc --version)"
fact aws_cli "$("${clean_env[@]}" aws --version 2>&1)"
fact node "$(node --version)"
[ "$node_ok" = 1 ] && fact client_sts "$(node -p 'require("./bench/node/node_modules/@aws-sdk/client-sts/package.json").version')"
fact moto "$(python3 -c 'import moto; print(moto.__version__)')"
fact curl "$(curl --version | head -n 1)"
fact hyperfine "$(hyperfine --version)"
fact jq "$(jq --version)"
fact total_s "$(secs_since "$started")"

python3 "$bench/report.py" "$res" >"$res/table.md"
cat "$res/table.md"

if [ "$mode" = full ]; then
  python3 "$bench/report.py" --splice BENCHMARKS.md "$res/table.md"
  say "BENCHMARKS.md updated"
fi
say "done in $(secs_since "$started") s; raw results in $res"
