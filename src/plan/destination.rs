//! Where the credentials go: the sinks `assume` writes, checked before any
//! request, and the compatibility paths of configure-aws-credentials
//! (`--unset-current-credentials`, `--use-existing-credentials`).

use super::*;

/// `--unset-current-credentials` in GitHub Actions: the keys and region earlier
/// steps exported are blanked for the later steps, as configure-aws-credentials
/// does, before anything can fail (so before the plan is made); and the plan
/// then sees the environment without them.
pub struct Unset {
    pub sinks: Vec<Box<dyn Sink>>,
    pub blank: Delivery,
    pub env: Env,
}

/// [`Unset`], where it applies.
pub fn unset_current(args: &AssumeArgs, env: &Env) -> Option<Unset> {
    if !args.unset_current_credentials || !env.in_github_actions() {
        return None;
    }
    let current: Vec<&'static str> = crate::sdk::KEYS
        .into_iter()
        .chain(crate::sdk::REGION)
        .collect();
    let without = env.without(&current);
    let sinks = match env.path("GITHUB_ENV").filter(|_| exports_variables(args)) {
        Some(path) => vec![github_env_variables(path, &without)],
        None => Vec::new(),
    };
    let blank = current.into_iter().map(|name| (name, String::new()));
    Some(Unset {
        sinks,
        blank: Delivery::variables(blank.collect()),
        env: without,
    })
}

/// `--use-existing-credentials`: whether what the SDKs would find here works
/// already, and, if so, the region lines later steps get as they would with
/// new credentials.
pub struct Existing {
    pub sts: Sts,
    pub net: NetConfig,
    pub sinks: Vec<Box<dyn Sink>>,
    pub region: Delivery,
}

impl Existing {
    pub fn new(args: &AssumeArgs, env: &Env) -> Result<Existing> {
        let (sts, net, region) = network(args, env, None)?;
        let sinks = match env.path("GITHUB_ENV") {
            Some(path) if args.github_env && exports_variables(args) && region.is_some() => {
                vec![github_env_variables(path, env)]
            }
            _ => Vec::new(),
        };
        let region = region
            .map(|region| {
                crate::sdk::REGION
                    .into_iter()
                    .rev()
                    .map(|name| (name, region.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Existing {
            sts,
            net,
            sinks,
            region: Delivery::variables(region),
        })
    }
}

/// configure-aws-credentials' output-env-credentials: off, the credentials and
/// region go to the outputs (and a profile) only.
fn exports_variables(args: &AssumeArgs) -> bool {
    args.output_env_credentials
        .unwrap_or(args.aws_profile.is_none())
}

/// `$GITHUB_ENV` for variables alone: no outputs, nothing to mask.
fn github_env_variables(path: PathBuf, env: &Env) -> Box<dyn Sink> {
    Box::new(sink::GithubEnv::new(
        path,
        None,
        false,
        true,
        None,
        Workflow::from_env(env),
    ))
}

/// The destinations, checked before any request: the variables CIs set exist,
/// directories exist, and nothing prints keys into a GitHub job log.
pub(super) fn destinations(
    args: &AssumeArgs,
    env: &Env,
    workflow: &mut Workflow,
) -> Result<(Vec<Box<dyn Sink>>, Finish)> {
    // Every CI's token variables and --token-env's, unless --keep-oidc-variables.
    let withheld = match args.keep_oidc_variables {
        true => Vec::new(),
        false => crate::identity::token_variables()
            .map(str::to_string)
            .chain(args.identity.token_env.clone())
            .collect(),
    };
    let command = Child::new(args.command.clone(), withheld);
    let window = Duration::from_secs(args.refresh_window);
    combinations(args)?;
    if args.refresh || args.serve {
        // An endpoint serves consumers whose SDKs look at the shared files first.
        if let Some(why) = crate::sdk::profile_that_wins(env) {
            return Err(Error::usage(format!(
                "{why}: remove it, or point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE \
                 elsewhere"
            )));
        }
    }
    if args.refresh {
        // clap keeps the other destinations out.
        return Ok((Vec::new(), Finish::Refresh { command, window }));
    }
    if args.serve
        && let Some(name) = crate::sdk::unremovable_for_endpoint(env)
    {
        return Err(Error::usage(format!(
            "--serve: {name} is set, and later steps' SDKs would use it before the server \
             (a step can set variables but not unset them): drop it from the job, or use \
             --refresh -- COMMAND, whose command gets a clean environment"
        )));
    }
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if args.github_env {
        let path = env_target(
            env,
            "GITHUB_ENV",
            "--github-env",
            "it exists only inside a GitHub Actions step; elsewhere use --env-file PATH",
        )?;
        let output = env.path("GITHUB_OUTPUT");
        if args.output_credentials && output.is_none() {
            return Err(Error::usage(
                "--output-credentials needs $GITHUB_OUTPUT, which is not set: it exists only inside a GitHub Actions step",
            ));
        }
        let variables = args
            .output_env_credentials
            .unwrap_or(args.aws_profile.is_none());
        sinks.push(Box::new(sink::GithubEnv::new(
            path,
            output,
            args.output_credentials,
            variables,
            args.aws_profile.clone(),
            *workflow,
        )));
    }
    if args.bash_env {
        let path = env_target(
            env,
            "BASH_ENV",
            "--bash-env",
            "CircleCI sets it in every job; elsewhere use --env-file PATH",
        )?;
        sinks.push(Box::new(sink::BashEnv::new(&path)));
    }
    if let Some(name) = &args.aws_profile {
        sinks.push(Box::new(sink::Profile::new(
            name,
            args.overwrite_aws_profile,
            (args.configure_profile_region, args.configure_default_region),
            env,
        )?));
    }
    if let Some(path) = &args.env_file {
        validate::writable_parent(path, "--env-file")?;
        if workflow.active() && crate::files::is_own_output(path) {
            return Err(Error::usage(format!(
                "--env-file {} is this step's output, which in GitHub Actions is the job log: \
                 the keys would be published there; give a file path, or use --github-env",
                path.display()
            )));
        }
        sinks.push(Box::new(sink::EnvFile::new(path.clone())));
    }
    if args.format.is_some() && !command.is_empty() {
        return Err(Error::usage(
            "--format prints the credentials to stdout, which the command after `--` also \
             writes to: use one or the other",
        ));
    }
    let format = match args.format {
        None if sinks.is_empty() && command.is_empty() && !args.serve => {
            // stdout is the job log here: printing keys would publish them.
            if let Some(refusal) = job_log(env, workflow) {
                return Err(refusal);
            }
            Some(Format::Env)
        }
        other => other,
    };
    if format == Some(Format::Dotenv)
        && let Some(name) = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ]
        .into_iter()
        .find(|name| env.has(name))
    {
        warn!(
            "{name} is already set here, and dotenv loaders keep variables that are set: load \
             the output with override (python-dotenv: load_dotenv(override=True); npm's dotenv: \
             config({{ override: true }})), or run the program under `vault-ci assume … --`"
        );
    }
    if let Some(format) = format {
        workflow.reserve_stdout();
        sinks.push(Box::new(sink::Stdout::new(format)));
    }
    // Before a token is spent on a command that cannot start.
    if let Some(program) = command.argv.first()
        && !crate::platform::findable(program, env)
    {
        return Err(crate::sink::exec::start_error(
            &command.shown(),
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    let finish = if args.serve {
        if sinks.is_empty() {
            return Err(Error::usage(
                "--serve hands the server's address to later steps: add --github-env, \
                 --bash-env or --env-file PATH",
            ));
        }
        Finish::Serve {
            window,
            limits: Limits {
                idle: Duration::from_secs(args.serve_idle),
                max: Duration::from_secs(args.serve_max),
            },
        }
    } else if command.is_empty() {
        Finish::Done
    } else {
        Finish::Exec(command)
    };
    Ok((sinks, finish))
}

/// In a CI, stdout is the job log: the refusal to print keys there unasked,
/// with the destination that CI's later steps read.
fn job_log(env: &Env, workflow: &Workflow) -> Option<Error> {
    if workflow.active() {
        return Some(Error::usage(
            "no destination given, and in GitHub Actions stdout is the job log: \
             add --github-env (or --env-file PATH, or `-- COMMAND`)",
        ));
    }
    let defaults = ProviderOptions::default();
    let ci = crate::identity::Ci::ALL
        .iter()
        .find(|ci| ci.system().provider(env, &defaults).detected());
    let (title, destination) = match ci {
        Some(ci) if ci.system().name() == "circleci" => (ci.system().title(), "--bash-env"),
        Some(ci) => (ci.system().title(), "--env-file PATH"),
        None if env.is_true("CI") => ("a CI (CI=true)", "--env-file PATH"),
        None => return None,
    };
    Some(Error::usage(format!(
        "no destination given, and in {title} stdout is the job log: add {destination} \
         (or `-- COMMAND`), or --format env to print the keys anyway"
    )))
}

/// A path from an environment variable the CI sets, checked to be usable.
fn env_target(env: &Env, var: &str, option: &str, hint: &str) -> Result<PathBuf> {
    let path = env
        .path(var)
        .ok_or_else(|| Error::usage(format!("{option} needs ${var}, which is not set: {hint}")))?;
    validate::writable_parent(&path, &format!("{option} (${var})"))?;
    Ok(path)
}
