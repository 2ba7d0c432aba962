//! The shared ledger on Azure Blob Storage (`CADENCE_STATE=blob:<container URL>`), for when the
//! Functions platform runs many instances at once.
//!
//! ## Layout
//! One small JSON blob per record, named by the SHA-256 of its key so that any key (slashes,
//! colons, e-mail addresses) makes a valid, fixed-length blob name:
//!
//! | blob                              | content                                             |
//! |-----------------------------------|-----------------------------------------------------|
//! | `events/<sha256(event id)>`       | `{"event_id", "at"}` — exists = processed           |
//! | `first-seen/<sha256(concern)>`    | `{"key", "at"}` — written once, never replaced      |
//! | `actions/<sha256(action key)>`    | `{"key", "token", "status", …}` — an [`ActionState`] |
//! | `refs/<sha256(concern\|channel)>` | `{"concern", "channel", "value"}`                   |
//! | `pending/<sha256(action key)>`    | `{"key", "action", "queued_at", "updated_at"}` — a notification waiting for its digest |
//! | `fleet/<sha256(cluster key)>`     | `{"cluster", "value"}` — what the rings know of a cluster (`sweep::fleet`) |
//!
//! The readable key is inside each blob, so `list_actions` and a person browsing the container
//! see what a record is about.
//!
//! ## Why concurrent instances are safe
//! Every decision that must be made once is a conditional write that the storage service
//! arbitrates, never a read-then-write in our process:
//! - **claim** = create with `If-None-Match: *`. Of many instances racing, exactly one gets
//!   201; the others get 409 and read what the winner wrote (done/failed → `Finished`, a live
//!   claim → `HeldElsewhere`).
//! - **takeover** of a claim whose lease has run out (its instance died) = replace with
//!   `If-Match: <etag we read>`. Only one taker's etag still matches; the others get 412 and
//!   read the new live claim. So an abandoned claim is retried (never lost) and taken by one
//!   instance only (never done twice by the ledger's account).
//! - **complete / release** = write / delete with `If-Match: <etag of our claim>`. If the lease
//!   ran out and someone else took over, the etag no longer matches and we get
//!   [`LedgerError::LostClaim`] instead of overwriting their claim.
//!
//! The claim token is `<nonce>:<etag>`. The nonce is also stored in the record so that when a
//! request's answer is lost and the client retries, we recognise our own earlier write (a 409
//! on create, or a 412 on complete whose record carries our nonce and exactly the outcome we
//! are sending) instead of mistaking it for someone else's. A token still completes once: a
//! second, different outcome with the same token is a lost claim.
//!
//! Lease expiry compares the `until` written by the claimer (its clock) with the reader's
//! `now`; Functions instances are NTP-synchronised, and the lease (minutes) dwarfs their skew.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, Etag, ExponentialRetryOptions, RequestContent, RetryOptions, StatusCode, Transport, Url};
use azure_storage_blob::models::{
    BlobClientDeleteOptions, BlobClientDownloadOptions, BlobClientUploadOptions, BlobContainerClientListBlobsOptions,
};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use futures::{StreamExt, TryStreamExt};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use crate::action::ActionKey;

/// How many times `claim`/`first_seen` go round create → read → take over when records keep
/// vanishing or changing under them before giving up as `Unavailable`.
const MAX_ROUNDS: usize = 8;
/// Records fetched at once by `list_actions`.
const LIST_CONCURRENCY: usize = 16;

/// [`Ledger`] on one Azure Blob Storage container.
pub struct BlobLedger {
    container: BlobContainerClient,
    /// The container URL without its query (a SAS is a secret), for messages.
    shown: String,
    /// Names per listing page (`None` = the service's default, 5,000).
    list_page_size: Option<i32>,
}

impl std::fmt::Debug for BlobLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobLedger").field("container", &self.shown).finish()
    }
}

/// The record stored in `actions/…`.
#[derive(Debug, Serialize, Deserialize)]
struct ActionRecord {
    key: String,
    /// Nonce of the claim that wrote this record.
    token: String,
    #[serde(flatten)]
    state: ActionState,
}

#[derive(Debug, Serialize, Deserialize)]
struct EventRecord {
    event_id: String,
    at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
struct FirstSeenRecord {
    key: String,
    at: Timestamp,
}

/// The record stored in `fleet/…`.
#[derive(Debug, Serialize, Deserialize)]
struct FleetEntry {
    cluster: String,
    value: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefRecord {
    concern: String,
    channel: String,
    value: String,
}

/// The record stored in `pending/…`.
#[derive(Debug, Serialize, Deserialize)]
struct PendingRecord {
    key: String,
    action: String,
    queued_at: Timestamp,
    updated_at: Timestamp,
}

/// Outcome of a conditional write.
enum Written {
    Ok(Etag),
    /// 409 (exists) or 412 (etag changed): the condition did not hold.
    ConditionFailed,
    /// 404: the blob to replace is gone.
    Missing,
}

impl BlobLedger {
    /// Opens the ledger on `container_url` (the part after `blob:` in `CADENCE_STATE`):
    /// - `https://<account>.blob.core.windows.net/<container>` with `credential` (the Function's
    ///   managed identity; needs *Storage Blob Data Contributor* on the container), or
    /// - any URL carrying a SAS (`…?sv=…&sig=…`), e.g. Azurite's
    ///   `http://127.0.0.1:10000/devstoreaccount1/<container>?<sas>`; `credential` must be `None`.
    ///
    /// Nothing is sent yet; the first call reports a missing container or missing permission.
    pub fn new(container_url: &str, credential: Option<Arc<dyn TokenCredential>>) -> Result<Self, LedgerError> {
        // reqwest is built with rustls but no crypto provider chosen: install aws-lc-rs once per
        // process (a second call finds one installed and changes nothing).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

        let url = Url::parse(container_url).map_err(|e| misconfigured(container_url, &format!("not a URL ({e})")))?;
        let mut shown = url.clone();
        shown.set_query(None);
        let shown = shown.to_string();
        let has_sas = url.query_pairs().any(|(k, _)| k == "sig");
        let segments = url.path_segments().map(|s| s.filter(|p| !p.is_empty()).count()).unwrap_or(0);
        if segments == 0 {
            return Err(misconfigured(&shown, "the URL names no container"));
        }
        match (&credential, has_sas) {
            (Some(_), true) => return Err(misconfigured(&shown, "the URL carries a SAS and a managed identity was configured too")),
            (None, false) => {
                return Err(misconfigured(&shown, "the URL carries no SAS and no Azure credential was configured"));
            }
            (Some(_), false) if url.scheme() != "https" => {
                return Err(misconfigured(&shown, "a managed identity token is only sent over https"));
            }
            _ => {}
        }

        // The shared TLS configuration (trust roots loaded once per process, on first use).
        let http = crate::azure::client_builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| LedgerError::Corrupt(format!("CADENCE_STATE: cannot build the HTTP client: {e}")))?;
        // House rule 7: retries are bounded here (a blip on one request) and the real retry is
        // the platform's redelivery. A retried conditional write is recognised by its nonce.
        let retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 2,
            max_total_elapsed: azure_core::time::Duration::seconds(10),
            max_delay: azure_core::time::Duration::seconds(2),
        });
        let options = BlobContainerClientOptions {
            client_options: ClientOptions { retry, transport: Some(Transport::new(Arc::new(http))), ..Default::default() },
            ..Default::default()
        };
        let container = BlobContainerClient::new(url, credential, Some(options))
            .map_err(|e| misconfigured(&shown, &e.to_string()))?;
        Ok(Self { container, shown, list_page_size: None })
    }

    /// Whether `container_url` needs an Azure credential (no SAS in it). `main` uses this to
    /// decide whether to build the managed identity for `CADENCE_STATE=blob:…`.
    pub fn needs_credential(container_url: &str) -> bool {
        Url::parse(container_url).map(|u| !u.query_pairs().any(|(k, _)| k == "sig")).unwrap_or(true)
    }

    /// Lists at most `n` names per page in `list_actions` (tests exercise paging with it).
    pub fn with_list_page_size(mut self, n: i32) -> Self {
        self.list_page_size = Some(n);
        self
    }

    /// Creates the container if it does not exist (tests, local runs; in Azure the deployment
    /// creates it). Needs a SAS with container create permission or the Contributor role.
    pub async fn ensure_container(&self) -> Result<(), LedgerError> {
        match self.container.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(self.classify(e, "create container")),
        }
    }

    fn blob(&self, prefix: &str, key: &str) -> BlobClient {
        self.container.blob_client(&format!("{prefix}/{}", digest(key)))
    }

    /// Reads a record and its etag; `None` if the blob does not exist.
    async fn read<T: for<'de> Deserialize<'de>>(&self, blob: &BlobClient) -> Result<Option<(T, Etag)>, LedgerError> {
        let res = match blob.download(Some(BlobClientDownloadOptions::default())).await {
            Ok(r) => r,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) && !container_missing(&e) => return Ok(None),
            Err(e) => return Err(self.classify(e, "read")),
        };
        let etag = res.properties.etag.clone().ok_or_else(|| {
            LedgerError::Corrupt(format!("CADENCE_STATE {}: blob {} came back without an ETag", self.shown, blob_name(blob)))
        })?;
        let bytes = res.body.collect().await.map_err(|e| self.classify(e, "read"))?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            LedgerError::Corrupt(format!(
                "CADENCE_STATE {}: blob {} is not a ledger record ({e}); it was written by something else or damaged — delete it to forget that record",
                self.shown,
                blob_name(blob)
            ))
        })?;
        Ok(Some((value, etag)))
    }

    /// Writes `value`: create-only (`if_none_match = *`), replace-if-unchanged (`if_match`), or
    /// unconditionally (neither).
    async fn write<T: Serialize>(&self, blob: &BlobClient, value: &T, if_match: Option<&Etag>, create_only: bool)
        -> Result<Written, LedgerError> {
        let body = serde_json::to_vec(value).map_err(|e| LedgerError::Corrupt(format!("cannot encode a ledger record: {e}")))?;
        let options = BlobClientUploadOptions {
            blob_content_type: Some("application/json".into()),
            if_match: if_match.cloned(),
            if_none_match: create_only.then(|| Etag::from("*")),
            ..Default::default()
        };
        match blob.upload(RequestContent::from(body), Some(options)).await {
            Ok(r) => r.etag.map(Written::Ok).ok_or_else(|| {
                LedgerError::Corrupt(format!("CADENCE_STATE {}: write of {} returned no ETag", self.shown, blob_name(blob)))
            }),
            Err(e) if matches!(e.http_status(), Some(StatusCode::Conflict | StatusCode::PreconditionFailed)) => {
                Ok(Written::ConditionFailed)
            }
            Err(e) if e.http_status() == Some(StatusCode::NotFound) && !container_missing(&e) => Ok(Written::Missing),
            Err(e) => Err(self.classify(e, "write")),
        }
    }

    /// Classifies a storage error where it is born (house rule 6).
    fn classify(&self, e: azure_core::Error, what: &str) -> LedgerError {
        let state = &self.shown;
        match e.kind() {
            ErrorKind::HttpResponse { status, error_code, .. } => {
                let code = error_code.as_deref().unwrap_or("no error code");
                match *status {
                    // A role assignment still propagating (minutes), or removed: the same
                    // delivery succeeds once the permission is there, so never "done".
                    StatusCode::Unauthorized | StatusCode::Forbidden => LedgerError::Configuration {
                        setting: "CADENCE_STATE (the identity's role on the container)".into(),
                        message: format!(
                            "blob ledger {state}: {what} was refused ({} {code}); grant the Function's managed identity \
                             the 'Storage Blob Data Contributor' role on this container (a new assignment takes up to \
                             10 minutes), or for a SAS URL use an unexpired SAS with read, add, create, write, delete and \
                             list permissions",
                            u16::from(*status)
                        ),
                    },
                    StatusCode::NotFound => LedgerError::Configuration {
                        setting: "CADENCE_STATE (the container name)".into(),
                        message: format!(
                            "blob ledger {state}: {what} failed: the container does not exist ({code}); create it \
                             (the Bicep in infra/ creates `ledger`) or correct the container name in CADENCE_STATE"
                        ),
                    },
                    StatusCode::RequestTimeout | StatusCode::TooManyRequests => {
                        LedgerError::Unavailable(format!("blob ledger {state}: {what}: {} {code}", u16::from(*status)))
                    }
                    s if u16::from(s) >= 500 => {
                        LedgerError::Unavailable(format!("blob ledger {state}: {what}: {} {code}", u16::from(s)))
                    }
                    s => LedgerError::Configuration {
                        setting: "CADENCE_STATE".into(),
                        message: format!(
                            "blob ledger {state}: {what} was rejected ({} {code}); check that CADENCE_STATE points at a \
                             blob container URL",
                            u16::from(s)
                        ),
                    },
                }
            }
            // No connection, a timeout, or the token endpoint not answering: retry later.
            ErrorKind::Connection | ErrorKind::Io => LedgerError::Unavailable(format!("blob ledger {state}: {what}: {e}")),
            ErrorKind::Credential => LedgerError::Unavailable(format!(
                "blob ledger {state}: {what}: no token for the storage account ({e}). If this persists, check the \
                 Function's managed identity (AZURE_CLIENT_ID) used for CADENCE_STATE"
            )),
            _ => LedgerError::Corrupt(format!("CADENCE_STATE {state}: {what}: unexpected answer: {e}")),
        }
    }

    async fn claim_inner(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration)
        -> Result<Claim, LedgerError> {
        let blob = self.blob("actions", key.as_str());
        let nonce = azure_core::Uuid::new_v4().simple().to_string();
        let until = now.checked_add(lease).map_err(|e| LedgerError::Corrupt(format!("lease {lease} overflows: {e}")))?;
        let record = ActionRecord {
            key: key.as_str().to_string(),
            token: nonce.clone(),
            state: ActionState::Claimed { owner: owner.to_string(), until },
        };
        for _ in 0..MAX_ROUNDS {
            if let Written::Ok(etag) = self.write(&blob, &record, None, true).await? {
                return Ok(Claim::Acquired(token(&nonce, &etag)));
            }
            let Some((found, etag)) = self.read::<ActionRecord>(&blob).await? else {
                continue; // released between our create and our read: try to create again
            };
            match found.state {
                ActionState::Done { .. } | ActionState::Failed { .. } => return Ok(Claim::Finished(found.state)),
                // Our own create landed but its answer was lost and the retry saw 409.
                ActionState::Claimed { .. } if found.token == nonce => return Ok(Claim::Acquired(token(&nonce, &etag))),
                ActionState::Claimed { owner, until } if until > now => return Ok(Claim::HeldElsewhere { owner, until }),
                ActionState::Claimed { owner: dead, until: expired } => {
                    tracing::info!(key = %key, previous_owner = %dead, expired = %expired, "taking over an expired claim");
                    match self.write(&blob, &record, Some(&etag), false).await? {
                        Written::Ok(etag) => return Ok(Claim::Acquired(token(&nonce, &etag))),
                        // Someone else took it over (or it was completed/released): look again.
                        Written::ConditionFailed | Written::Missing => continue,
                    }
                }
            }
        }
        Err(LedgerError::Unavailable(format!("blob ledger {}: claim on {key} kept changing under us; retry later", self.shown)))
    }
}

#[async_trait]
impl Ledger for BlobLedger {
    async fn mark_event_processed(&self, event_id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        let blob = self.blob("events", event_id);
        let record = EventRecord { event_id: event_id.to_string(), at };
        match self.write(&blob, &record, None, true).await? {
            Written::Ok(_) => Ok(true),
            Written::ConditionFailed | Written::Missing => Ok(false),
        }
    }

    async fn event_processed(&self, event_id: &str) -> Result<bool, LedgerError> {
        let blob = self.blob("events", event_id);
        match blob.get_properties(None).await {
            Ok(_) => Ok(true),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) && !container_missing(&e) => Ok(false),
            Err(e) => Err(self.classify(e, "read")),
        }
    }

    async fn first_seen(&self, concern_key: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        let blob = self.blob("first-seen", concern_key);
        let record = FirstSeenRecord { key: concern_key.to_string(), at };
        for _ in 0..MAX_ROUNDS {
            if let Written::Ok(_) = self.write(&blob, &record, None, true).await? {
                return Ok(at);
            }
            if let Some((found, _)) = self.read::<FirstSeenRecord>(&blob).await? {
                return Ok(found.at);
            }
        }
        Err(LedgerError::Unavailable(format!("blob ledger {}: first-seen record for {concern_key} keeps vanishing", self.shown)))
    }

    async fn seen(&self, concern_key: &str) -> Result<Option<Timestamp>, LedgerError> {
        let blob = self.blob("first-seen", concern_key);
        Ok(self.read::<FirstSeenRecord>(&blob).await?.map(|(r, _)| r.at))
    }

    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        let blob = self.blob("actions", key.as_str());
        Ok(self.read::<ActionRecord>(&blob).await?.map(|(r, _)| r.state))
    }

    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration)
        -> Result<Claim, LedgerError> {
        self.claim_inner(key, owner, now, lease).await
    }

    async fn complete(&self, key: &ActionKey, claim: &ClaimToken, completion: Completion, now: Timestamp)
        -> Result<(), LedgerError> {
        let (nonce, etag) = parse_token(key, claim)?;
        let blob = self.blob("actions", key.as_str());
        let state = match completion {
            Completion::Done { detail } => ActionState::Done { detail, at: now },
            Completion::Failed { reason } => ActionState::Failed { reason, at: now },
        };
        let record = ActionRecord { key: key.as_str().to_string(), token: nonce.clone(), state };
        match self.write(&blob, &record, Some(&etag), false).await? {
            Written::Ok(_) => Ok(()),
            Written::ConditionFailed | Written::Missing => match self.read::<ActionRecord>(&blob).await? {
                // This very completion landed and its answer was lost: the retried request found
                // the etag changed. Anything else (another outcome, another claim) is lost: a
                // token completes once.
                Some((found, _)) if found.token == nonce && found.state == record.state => Ok(()),
                _ => Err(LedgerError::LostClaim { key: key.to_string() }),
            },
        }
    }

    async fn release(&self, key: &ActionKey, claim: &ClaimToken) -> Result<(), LedgerError> {
        let (_, etag) = parse_token(key, claim)?;
        let blob = self.blob("actions", key.as_str());
        let options = BlobClientDeleteOptions { if_match: Some(etag), ..Default::default() };
        match blob.delete(Some(options)).await {
            Ok(_) => Ok(()),
            // Already gone: our own retried delete, nothing is held.
            Err(e) if e.http_status() == Some(StatusCode::NotFound) && !container_missing(&e) => Ok(()),
            // The etag did not match: either the record is gone (a conditional request on a
            // missing blob also gets 412) or someone else's claim or result is there now.
            Err(e) if e.http_status() == Some(StatusCode::PreconditionFailed) => {
                match self.read::<ActionRecord>(&blob).await? {
                    None => Ok(()),
                    Some(_) => Err(LedgerError::LostClaim { key: key.to_string() }),
                }
            }
            Err(e) => Err(self.classify(e, "release")),
        }
    }

    async fn get_ref(&self, concern_key: &str, channel: &str) -> Result<Option<String>, LedgerError> {
        let blob = self.blob("refs", &ref_id(concern_key, channel));
        Ok(self.read::<RefRecord>(&blob).await?.map(|(r, _)| r.value))
    }

    async fn put_ref(&self, concern_key: &str, channel: &str, value: &str) -> Result<(), LedgerError> {
        let blob = self.blob("refs", &ref_id(concern_key, channel));
        let record = RefRecord { concern: concern_key.to_string(), channel: channel.to_string(), value: value.to_string() };
        match self.write(&blob, &record, None, false).await? {
            Written::Ok(_) => Ok(()),
            // An unconditional write cannot fail its condition; 404 here means the container vanished.
            Written::ConditionFailed | Written::Missing => Err(LedgerError::Unavailable(format!(
                "blob ledger {}: could not store the reference for {concern_key} ({channel})",
                self.shown
            ))),
        }
    }

    async fn put_fleet(&self, cluster_key: &str, value: &str) -> Result<(), LedgerError> {
        let blob = self.blob("fleet", cluster_key);
        let record = FleetEntry { cluster: cluster_key.to_string(), value: value.to_string() };
        match self.write(&blob, &record, None, false).await? {
            Written::Ok(_) => Ok(()),
            Written::ConditionFailed | Written::Missing => Err(LedgerError::Unavailable(format!(
                "blob ledger {}: could not store the fleet record of {cluster_key}",
                self.shown
            ))),
        }
    }

    async fn fleet_of(&self, cluster_key: &str) -> Result<Option<String>, LedgerError> {
        let blob = self.blob("fleet", cluster_key);
        Ok(self.read::<FleetEntry>(&blob).await?.map(|(r, _)| r.value))
    }

    async fn fleet(&self) -> Result<Vec<(String, String)>, LedgerError> {
        let records: Vec<FleetEntry> = self.read_prefix("fleet/").await?;
        Ok(records.into_iter().map(|r| (r.cluster, r.value)).collect())
    }

    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        let records: Vec<ActionRecord> = self.read_prefix("actions/").await?;
        let mut out: Vec<(ActionKey, ActionState)> = records.into_iter().map(|r| (ActionKey::from_raw(r.key), r.state)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError> {
        let blob = self.blob("pending", key.as_str());
        // Most keys are queued once: try create-only first (one round trip). A key already
        // queued (409) goes read → merge → conditional write, so the first queueing's time
        // survives concurrent queueings of the same key (each loser reads the winner's record
        // and merges again).
        let fresh = PendingRecord { key: key.as_str().to_string(), action: action.to_string(), queued_at: at, updated_at: at };
        if let Written::Ok(_) = self.write(&blob, &fresh, None, true).await? {
            return Ok(());
        }
        for round in 0..MAX_ROUNDS {
            if round > 0 {
                // Losers of a round all re-read at once and collide again; a random pause
                // (up to 5 ms, doubling per round) spreads them out. Seen in CI: 12 concurrent
                // queueings of one key with no pause ran one writer out of rounds.
                tokio::time::sleep(contention_pause(round)).await;
            }
            let found = self.read::<PendingRecord>(&blob).await?;
            let written = match found {
                None => self.write(&blob, &fresh, None, true).await?,
                Some((old, etag)) => {
                    let record = PendingRecord {
                        key: old.key,
                        action: action.to_string(),
                        queued_at: old.queued_at,
                        updated_at: old.updated_at.max(at),
                    };
                    self.write(&blob, &record, Some(&etag), false).await?
                }
            };
            if let Written::Ok(_) = written {
                return Ok(());
            }
        }
        Err(LedgerError::Unavailable(format!("blob ledger {}: queueing {key} kept changing under us; retry later", self.shown)))
    }

    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        let records: Vec<PendingRecord> = self.read_prefix("pending/").await?;
        let mut out: Vec<PendingNotification> = records
            .into_iter()
            .map(|r| PendingNotification { key: ActionKey::from_raw(r.key), action: r.action, queued_at: r.queued_at, updated_at: r.updated_at })
            .collect();
        out.sort_by(|a, b| (a.queued_at, &a.key).cmp(&(b.queued_at, &b.key)));
        Ok(out)
    }

    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError> {
        let blob = self.blob("pending", key.as_str());
        match blob.delete(Some(BlobClientDeleteOptions::default())).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) && !container_missing(&e) => Ok(()),
            Err(e) => Err(self.classify(e, "remove a queued notification")),
        }
    }
}

impl BlobLedger {
    /// Every record under `prefix`, read with bounded concurrency. A blob deleted between the
    /// listing and its read is skipped.
    async fn read_prefix<T: for<'de> Deserialize<'de> + Send>(&self, prefix: &str) -> Result<Vec<T>, LedgerError> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(prefix.into()),
            maxresults: self.list_page_size,
            ..Default::default()
        };
        let pager = self.container.list_blobs(Some(options)).map_err(|e| self.classify(e, "list"))?;
        let names: Vec<String> = pager
            .map_err(|e| self.classify(e, "list"))
            .try_filter_map(|item| async move { Ok(item.name) })
            .try_collect()
            .await?;
        let records: Vec<Option<(T, Etag)>> = futures::stream::iter(names)
            .map(|name| async move { self.read::<T>(&self.container.blob_client(&name)).await })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(records.into_iter().flatten().map(|(r, _)| r).collect())
    }
}

fn digest(key: &str) -> String {
    let hash = Sha256::digest(key.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn ref_id(concern_key: &str, channel: &str) -> String {
    format!("{concern_key}|{channel}")
}

fn token(nonce: &str, etag: &Etag) -> ClaimToken {
    ClaimToken(format!("{nonce}:{etag}"))
}

fn parse_token(key: &ActionKey, claim: &ClaimToken) -> Result<(String, Etag), LedgerError> {
    match claim.0.split_once(':') {
        Some((nonce, etag)) if !nonce.is_empty() && !etag.is_empty() => Ok((nonce.to_string(), Etag::from(etag))),
        // Not a token this ledger issued (e.g. one from another ledger kind): it holds nothing.
        _ => Err(LedgerError::LostClaim { key: key.to_string() }),
    }
}

fn blob_name(blob: &BlobClient) -> String {
    blob.url().path().to_string()
}

/// A random pause before retry round `round` (≥ 1) of a contended conditional write: up to
/// 5 ms × 2^(round−1), at most 320 ms.
fn contention_pause(round: usize) -> Duration {
    let cap_ms = 5u64 << round.saturating_sub(1).min(6);
    Duration::from_micros((uuid::Uuid::new_v4().as_u128() % u128::from(cap_ms * 1000)) as u64)
}

/// A 404 about the container (not the blob) is misconfiguration, not "no record".
fn container_missing(e: &azure_core::Error) -> bool {
    matches!(e.kind(), ErrorKind::HttpResponse { error_code: Some(code), .. } if code == "ContainerNotFound")
}

fn misconfigured(shown: &str, problem: &str) -> LedgerError {
    LedgerError::Configuration {
        setting: "CADENCE_STATE".into(),
        message: format!(
            "blob:{shown}: {problem}; use blob:https://<account>.blob.core.windows.net/<container> with the \
             Function's managed identity, or a container URL with a SAS (…/<container>?sv=…&sig=…) for the emulator"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_pauses_stay_under_their_cap() {
        for round in 1..=MAX_ROUNDS {
            let cap = Duration::from_millis(5u64 << (round - 1).min(6));
            for _ in 0..50 {
                assert!(contention_pause(round) < cap, "round {round}");
            }
        }
    }

    #[test]
    fn blob_names_are_fixed_length_hex_whatever_the_key() {
        let d = digest("/subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerService/managedClusters/z|github-issue:a/b");
        assert_eq!(d.len(), 64);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(digest("a|b"), digest("a|c"));
    }

    #[test]
    fn claim_tokens_round_trip_and_foreign_tokens_hold_nothing() {
        let key = ActionKey::from_raw("k");
        let t = token("abc", &Etag::from("\"0x8DC1\""));
        let (nonce, etag) = parse_token(&key, &t).unwrap();
        assert_eq!(nonce, "abc");
        assert_eq!(etag.to_string(), "\"0x8DC1\"");
        assert!(matches!(parse_token(&key, &ClaimToken("17".into())), Err(LedgerError::LostClaim { .. })));
    }

    #[test]
    fn a_sas_url_shows_without_its_signature_and_needs_no_credential() {
        let l = BlobLedger::new("http://127.0.0.1:10000/devstoreaccount1/ledger?sv=2021-08-06&sig=SECRET", None).unwrap();
        assert_eq!(l.shown, "http://127.0.0.1:10000/devstoreaccount1/ledger");
    }

    #[test]
    fn only_urls_without_a_sas_need_a_credential() {
        assert!(BlobLedger::needs_credential("https://acct.blob.core.windows.net/ledger"));
        assert!(!BlobLedger::needs_credential("http://127.0.0.1:10000/devstoreaccount1/ledger?sv=1&sig=x"));
    }

    #[test]
    fn a_url_without_sas_or_credential_names_the_setting_and_the_fix() {
        let e = BlobLedger::new("https://acct.blob.core.windows.net/ledger", None).unwrap_err().to_string();
        assert!(e.contains("CADENCE_STATE"), "{e}");
        assert!(e.contains("Fix:"), "{e}");
        let e = BlobLedger::new("https://acct.blob.core.windows.net", None).unwrap_err().to_string();
        assert!(e.contains("no container"), "{e}");
    }

    #[test]
    fn action_records_keep_the_state_shape_of_the_trait() {
        let r = ActionRecord {
            key: "c/log/notice".into(),
            token: "n".into(),
            state: ActionState::Done { detail: "x".into(), at: Timestamp::UNIX_EPOCH },
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "done");
        assert_eq!(v["key"], "c/log/notice");
        let back: ActionRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back.state, r.state);
    }
}
