#!/bin/bash
# The AWS CLI where it is missing, as aws-cli/setup installs it: an `aws` already
# on PATH is kept unless override_installed; otherwise AWS's own installer (Linux,
# macOS) or the distribution's package (Alpine), into install_dir with `aws` in
# binary_dir.
set -euo pipefail

sudo=()
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo=(sudo); fi
version=$(printf '%s' "$PARAM_VERSION" | circleci env subst)
install_dir=$(eval echo "$PARAM_INSTALL_DIR")
binary_dir=$(eval echo "$PARAM_BINARY_DIR")
suffix=
if [ "$version" != latest ]; then suffix=-$version; fi

if command -v aws >/dev/null && [ "$PARAM_OVERRIDE_INSTALLED" != 1 ]; then
  echo "AWS CLI is already installed, skipping installation."
  aws --version
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  case $(uname -s) in
    Linux)
      if grep -qs Alpine /etc/issue; then
        "${sudo[@]}" apk --no-cache add aws-cli
      else
        curl -sSL "https://awscli.amazonaws.com/awscli-exe-linux-$(uname -m)$suffix.zip" -o "$work/awscliv2.zip"
        unzip -q -o "$work/awscliv2.zip" -d "$work"
        "${sudo[@]}" "$work/aws/install" --update -i "$install_dir" -b "$binary_dir"
      fi
      ;;
    Darwin)
      if [ "$PARAM_USE_BREW" = 1 ]; then
        brew install awscli
      else
        curl -sSL "https://awscli.amazonaws.com/AWSCLIV2$suffix.pkg" -o "$work/AWSCLIV2.pkg"
        "${sudo[@]}" installer -pkg "$work/AWSCLIV2.pkg" -target /
      fi
      ;;
    *)
      echo "vault-ci/setup: no AWS CLI installer for $(uname -s); install it, or set disable_aws_install" >&2
      exit 1
      ;;
  esac
  "$binary_dir/aws" --version
fi
if [ "$PARAM_DISABLE_AWS_PAGER" = 1 ] && [ -z "${AWS_PAGER+set}" ]; then
  echo 'export AWS_PAGER=""' >>"$BASH_ENV"
fi
