//! Run layer: the one place a run is assembled — policy, ledger, adapters, executor, pipeline,
//! ARM client and sweeper — from [`Settings`]. `main.rs` builds every command's run here, and
//! the tests build theirs from the same [`Parts`] with their own adapters and ledgers, so the
//! pipeline a test drives is put together the way production puts it together.
//!
//! Building does no network IO: the ARM client and the adapters connect on first use, and the
//! SQLite ledger is a local file. Every error names the setting (or the policy file) to fix.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::SignedDuration;

use crate::actions::Actuator;
use crate::actions::azure::{AzureActuator, FOLLOW_FOR};
use crate::actions::chat::ChatActuator;
use crate::actions::email::EmailActuator;
use crate::actions::github::{GithubActuator, GithubApprovals};
use crate::actions::log::LogActuator;
use crate::azure::{ArmClient, ArmConfig, identity};
use crate::execute::{DEFAULT_LEASE, DigestWindow, Executor, RetryPolicy};
use crate::pipeline::{Clock, Pipeline};
use crate::policy::{Policy, PolicyError, Rule};
use crate::settings::{Settings, SettingsError, StateLocation};
use crate::store::blob::BlobLedger;
use crate::store::opening::OpeningLedger;
use crate::store::sqlite::SqliteLedger;
use crate::store::{Ledger, LedgerError};
use crate::sweep::SweepContext;
use crate::sweeper::Sweeper;

/// Why a run could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// A setting is missing or wrong (the message names it and the fix).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The policy file has problems; each is printed with its line and fix.
    #[error("the policy {} has {} problem(s); see above, or run `handler config check {}`", path.display(), problems.len(), path.display())]
    Policy {
        path: PathBuf,
        problems: Vec<PolicyError>,
    },
    /// The SQLite ledger could not be opened.
    #[error("opening the ledger (CADENCE_STATE=sqlite:{}): {source}", path.display())]
    Ledger { path: PathBuf, source: LedgerError },
    /// An adapter's client could not be built.
    #[error("building the {adapter} adapter: {message}")]
    Adapter {
        adapter: &'static str,
        message: String,
    },
}

/// How a process sends notifications: the host queues them for digests across invocations
/// (unless `CADENCE_DIGEST_QUIET_SECONDS=0`); a command-line run is one batch and sends them
/// with the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notifications {
    Digest,
    WithTheRun,
}

/// What a pipeline is made of. [`Parts::from_settings`] is production's; tests start from
/// [`Parts::new`] with their own adapters and ledger and change the fields they care about.
pub struct Parts {
    pub policy: Arc<Policy>,
    pub ledger: Arc<dyn Ledger>,
    /// The first adapter that handles an action kind carries it out.
    pub actuators: Vec<Arc<dyn Actuator>>,
    /// Names this process in ledger claims.
    pub owner: String,
    /// How long a claim holds (`CADENCE_CLAIM_LEASE_SECONDS`).
    pub lease: SignedDuration,
    /// The executor's retries of one action within a run.
    pub retry: RetryPolicy,
    /// `Some`: email and chat are queued in the ledger for the `digest` timer.
    pub digest: Option<DigestWindow>,
    /// Only plan: nothing is claimed, carried out or marked.
    pub dry_run: bool,
    pub clock: Clock,
    /// Reads approvals from GitHub issues (`approval = "github"`); `None` without credentials.
    pub approvals: Option<Arc<GithubApprovals>>,
}

impl Parts {
    /// The parts with production's defaults for everything but what is given.
    pub fn new(
        policy: Arc<Policy>,
        ledger: Arc<dyn Ledger>,
        actuators: Vec<Arc<dyn Actuator>>,
        dry_run: bool,
        clock: Clock,
    ) -> Self {
        Self {
            policy,
            ledger,
            actuators,
            owner: owner(),
            lease: DEFAULT_LEASE,
            retry: RetryPolicy::DEFAULT,
            digest: None,
            dry_run,
            clock,
            approvals: None,
        }
    }

    /// Production's parts: the policy at `CADENCE_CONFIG` (a live run checks every channel it
    /// uses is configured), the ledger at `CADENCE_STATE`, the adapters whose settings are set.
    pub fn from_settings(
        settings: &Settings,
        dry_run: bool,
        clock: Clock,
        arm: Option<&ArmClient>,
        notifications: Notifications,
    ) -> Result<Self, WiringError> {
        Self::assemble(settings, dry_run, clock, arm, notifications, open_ledger)
    }

    /// [`Parts::from_settings`] for the host: a SQLite ledger is opened on a thread of its own
    /// (`store::opening`) so that `GET /` is answered meanwhile; the returned [`LedgerOpening`]
    /// says whether the open succeeded (the host stops when it did not, as before).
    pub fn from_settings_for_host(
        settings: &Settings,
        dry_run: bool,
        clock: Clock,
        arm: Option<&ArmClient>,
        notifications: Notifications,
    ) -> Result<(Self, LedgerOpening), WiringError> {
        let mut opening = LedgerOpening(None);
        let parts = Self::assemble(settings, dry_run, clock, arm, notifications, |settings| match &settings.state {
            StateLocation::Sqlite(path) => {
                let file = path.clone();
                let started = OpeningLedger::start(move || Ok(Arc::new(SqliteLedger::open(file)?) as Arc<dyn Ledger>))
                    .map_err(|e| WiringError::Ledger { path: path.clone(), source: LedgerError::Unavailable(format!("cannot start opening the SQLite ledger: {e}")) })?;
                opening = LedgerOpening(Some((path.clone(), started.clone())));
                Ok(Arc::new(started) as Arc<dyn Ledger>)
            }
            StateLocation::Blob(_) => open_ledger(settings),
        })?;
        Ok((parts, opening))
    }

    fn assemble(
        settings: &Settings,
        dry_run: bool,
        clock: Clock,
        arm: Option<&ArmClient>,
        notifications: Notifications,
        open_ledger: impl FnOnce(&Settings) -> Result<Arc<dyn Ledger>, WiringError>,
    ) -> Result<Self, WiringError> {
        let policy = Arc::new(load_policy(&settings.config_path)?);
        if !dry_run {
            check_policy_settings(&policy, settings)?;
        }
        let ledger = open_ledger(settings)?;
        let actuators = actuators(settings, &ledger, arm, dry_run)?;
        for a in &actuators {
            tracing::info!(adapter = a.name(), "adapter ready");
        }
        let approvals = GithubApprovals::new(settings, Arc::clone(&ledger))?;
        let mut parts = Self::new(policy, ledger, actuators, dry_run, clock);
        parts.approvals = approvals.map(Arc::new);
        parts.lease = settings.claim_lease;
        if notifications == Notifications::Digest && settings.digest_quiet > SignedDuration::ZERO {
            parts.digest = Some(DigestWindow {
                quiet: settings.digest_quiet,
                max_wait: settings.digest_max_wait,
            });
        }
        Ok(parts)
    }

    /// The executor these parts describe.
    pub fn executor(&self) -> Executor {
        let executor = Executor::new(
            Arc::clone(&self.ledger),
            self.actuators.clone(),
            self.owner.clone(),
            self.lease,
        )
        .with_retry_policy(self.retry);
        match self.digest {
            Some(window) => executor.with_digest(window),
            None => executor,
        }
    }

    /// The pipeline these parts describe.
    pub fn pipeline(self) -> Pipeline {
        let executor = self.executor();
        Pipeline::new(self.policy, self.ledger, executor, self.dry_run, self.clock).with_approvals(self.approvals)
    }
}

/// The sweeper of a pipeline: the sweep settings and the ARM client it reads with. Readiness
/// reads (Compute usages, virtual-network usages) happen only when the policy checks readiness.
///
/// With GitHub credentials, a live run and a policy that opens issues, the sweeper also posts
/// the fleet dashboard (`fleet_status`); the client is built here (inside the runtime).
pub fn sweeper(settings: &Settings, arm: ArmClient, pipeline: Arc<Pipeline>) -> Sweeper {
    let dashboard = (settings.github_auth.is_some() && !pipeline.dry_run() && !crate::dashboard::dashboard_repos(pipeline.policy()).is_empty())
        .then(|| GithubActuator::new(settings, Arc::clone(pipeline.ledger())));
    let mut ctx = SweepContext::from_settings(settings, arm);
    ctx.options.readiness = pipeline.checks_readiness();
    let sweeper = Sweeper::new(ctx, pipeline);
    match dashboard {
        Some(Ok(github)) => sweeper.with_dashboard(Arc::new(github)),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the fleet dashboard is off: the GitHub client could not be built");
            sweeper
        }
        None => sweeper,
    }
}

/// The policy in force: the file at `CADENCE_CONFIG`, or the built-in default when there is
/// none. An invalid file stops the start rather than running on a policy nobody wrote.
pub fn load_policy(path: &Path) -> Result<Policy, WiringError> {
    match Policy::load(path) {
        Ok(Some(policy)) => {
            tracing::info!(path = %path.display(), "policy loaded");
            Ok(policy)
        }
        Ok(None) => {
            tracing::info!(path = %path.display(), "no policy file; using the built-in notify-only policy");
            Ok(Policy::builtin())
        }
        Err(problems) => Err(WiringError::Policy {
            path: path.to_path_buf(),
            problems,
        }),
    }
}

/// The ARM client (sweeps and the upgrade adapter), with the identity `AZURE_CREDENTIAL`
/// names. Building it does no IO. `Err` names the setting to fix.
pub fn arm_client(settings: &Settings) -> Result<ArmClient, SettingsError> {
    let tokens = identity::from_settings(settings)?;
    let mut config = ArmConfig::from_settings(settings);
    // The adapter follows an operation this long, then leaves it to the sweeps.
    config.lro_timeout = FOLLOW_FOR;
    ArmClient::new(config, tokens).map_err(|e| SettingsError {
        name: "ARM_ENDPOINT",
        problem: e.to_string(),
        fix: "use an absolute https URL such as https://management.azure.com (plain http only to a loopback address)".into(),
    })
}

/// A ledger being opened in the background ([`Parts::from_settings_for_host`]); `None` inside when
/// there was nothing to open (the blob ledger connects on first use).
pub struct LedgerOpening(Option<(PathBuf, OpeningLedger)>);

impl LedgerOpening {
    /// Waits for the open; `Err` is the error a start-up open would have stopped on.
    pub async fn finished(&self) -> Result<(), WiringError> {
        match &self.0 {
            None => Ok(()),
            Some((path, opening)) => opening.opened().await.map(|_| ()).map_err(|source| WiringError::Ledger { path: path.clone(), source }),
        }
    }
}

/// The ledger named by `CADENCE_STATE`.
pub fn open_ledger(settings: &Settings) -> Result<Arc<dyn Ledger>, WiringError> {
    match &settings.state {
        StateLocation::Sqlite(path) => {
            let ledger = SqliteLedger::open(path).map_err(|source| WiringError::Ledger {
                path: path.clone(),
                source,
            })?;
            Ok(Arc::new(ledger))
        }
        StateLocation::Blob(url) => {
            let credential = if BlobLedger::needs_credential(url) {
                Some(identity::credential(settings)?)
            } else {
                None
            };
            let ledger = BlobLedger::new(url, credential).map_err(|e| SettingsError {
                name: "CADENCE_STATE",
                problem: match e {
                    LedgerError::Configuration { message, .. } => message,
                    other => other.to_string(),
                },
                fix: "use blob:https://<account>.blob.core.windows.net/<container> (managed identity) or a container URL with a SAS".into(),
            })?;
            Ok(Arc::new(ledger))
        }
    }
}

/// The adapters this process can use, from settings. Adding an adapter is one line here, added
/// when its settings are present; a `SettingsError` from its constructor exits 2.
///
/// The Azure adapter (upgrades, certificate rotation) is there when ARM is usable (`arm` is
/// `Some`: a credential could be built) and the run is not a dry run. It carries out only what
/// the plan lets through: policy `auto` for that change, and every gate open (window, state,
/// offer). In dry-run it is never built, so nothing that changes a cluster exists in the
/// process at all; without ARM, upgrade actions are reported "no adapter" and left unclaimed.
pub fn actuators(
    settings: &Settings,
    ledger: &Arc<dyn Ledger>,
    arm: Option<&ArmClient>,
    dry_run: bool,
) -> Result<Vec<Arc<dyn Actuator>>, WiringError> {
    let mut actuators: Vec<Arc<dyn Actuator>> = vec![Arc::new(LogActuator)];
    // An adapter exists only when its credentials are set; an action whose adapter is missing is
    // reported and left unclaimed, so it runs once the setting is added.
    if settings.github_auth.is_some() {
        actuators.push(Arc::new(GithubActuator::new(settings, Arc::clone(ledger))?));
    }
    if let Some(email) = EmailActuator::from_settings(settings)? {
        actuators.push(Arc::new(email));
    }
    let chat = ChatActuator::new(settings.clone()).map_err(|e| WiringError::Adapter {
        adapter: "chat",
        message: e.to_string(),
    })?;
    actuators.push(Arc::new(chat));
    if let (Some(arm), false) = (arm, dry_run) {
        actuators.push(Arc::new(AzureActuator::new(arm.clone())));
    }
    Ok(actuators)
}

/// Names this process in ledger claims: the Functions instance (or host) and the process id.
pub fn owner() -> String {
    let host = std::env::var("WEBSITE_INSTANCE_ID")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .filter(|h| !h.trim().is_empty())
        .map(|h| h.chars().take(16).collect::<String>())
        .unwrap_or_else(|| "local".into());
    format!("{host}:{}", std::process::id())
}

/// A live run checks at start-up that every channel the policy uses can be served, so a missing
/// token or webhook URL is one clear error now rather than a failure per action later.
pub fn check_policy_settings(policy: &Policy, settings: &Settings) -> Result<(), SettingsError> {
    for name in policy.referenced_settings() {
        settings.named_secret(name)?;
    }
    let uses = |f: fn(&Rule) -> bool| policy.rules.iter().find(|r| f(r)).map(|r| r.name.clone());
    if settings.github_auth.is_none()
        && let Some(rule) = uses(|r| r.github_issue.is_some() || r.github_pr.is_some())
    {
        return Err(SettingsError {
            name: "GITHUB_TOKEN",
            problem: format!("policy rule `{rule}` opens GitHub issues or pull requests, but no GitHub credentials are set"),
            fix: "set GITHUB_TOKEN, or GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY + GITHUB_APP_INSTALLATION_ID (or run with CADENCE_DRY_RUN=true)".into(),
        });
    }
    if settings.smtp_url.is_none()
        && let Some(rule) = uses(Rule::sends_email)
    {
        return Err(SettingsError {
            name: "SMTP_URL",
            problem: format!("policy rule `{rule}` sends email, but SMTP_URL is not set"),
            fix: "set SMTP_URL and SMTP_FROM (or run with CADENCE_DRY_RUN=true)".into(),
        });
    }
    Ok(())
}
