//! The HTTP server: routing by protocol and credential scope, fault
//! injection, call counters, and the `/_sim/*` admin surface.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Response, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::faults::{Faults, RateLimit, RetiredShape};
use crate::scenario::{OrgAccountSpec, OrganizationSpec, RegionScenario, Scenario};
use crate::wire::{error_response, json_response, ApiError, Ctx, Handler, Protocol};
use crate::{classic, ecr, inspector2, lambda, organizations, ssm, sts, SimError};

/// Calls answered for one (service, operation, region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    /// The signing service: `inspector`, `inspector2`, `ssm` or `sts`.
    pub service: String,
    /// The operation name, e.g. `ListCoverage`.
    pub operation: String,
    /// The region from the credential scope.
    pub region: String,
    /// Calls received.
    pub calls: u64,
    /// Calls answered with an injected fault.
    pub faults: u64,
}

/// AssumeRole calls for the roles of one account, for tests that watch
/// credentials being refreshed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssumeRoleCount {
    /// The account whose role was assumed.
    pub account: String,
    /// Calls answered with credentials.
    pub issued: u64,
    /// Calls refused because the account denies AssumeRole.
    pub denied: u64,
}

/// Lookup tables for one region's data, built once per scenario so that
/// handlers never scan for an ARN or ID.
#[derive(Debug, Default)]
pub(crate) struct RegionIndex {
    pub run_by_arn: HashMap<String, usize>,
    /// Exclusion ARN → (run index, exclusion index).
    pub exclusion_by_arn: HashMap<String, (usize, usize)>,
    pub association_by_id: HashMap<String, usize>,
}

/// A finalized scenario with its indexes; replaced whole, never mutated.
#[derive(Debug)]
pub(crate) struct World {
    pub scenario: Scenario,
    regions: HashMap<(String, String), usize>,
    indexes: Vec<RegionIndex>,
    pub known_accounts: HashSet<String>,
    /// Organisation account ID → its index in `organization.accounts`.
    org_accounts: HashMap<String, usize>,
    /// When the scenario was loaded: `joins_after` and `leaves_after` count
    /// from here.
    loaded: Instant,
    loaded_at: DateTime<Utc>,
}

impl World {
    fn new(mut scenario: Scenario) -> World {
        let loaded = Instant::now();
        let loaded_at = Utc::now();
        scenario.finalize();
        let mut regions = HashMap::new();
        let mut indexes = Vec::with_capacity(scenario.regions.len());
        let mut known_accounts: HashSet<String> = scenario.access_keys.values().cloned().collect();
        known_accounts.insert(scenario.default_account.clone());
        let mut org_accounts = HashMap::new();
        if let Some(org) = &scenario.organization {
            for (i, a) in org.accounts.iter().enumerate() {
                known_accounts.insert(a.id.clone());
                org_accounts.entry(a.id.clone()).or_insert(i);
            }
        }
        for (i, r) in scenario.regions.iter().enumerate() {
            let account = r
                .account
                .clone()
                .unwrap_or_else(|| scenario.default_account.clone());
            known_accounts.insert(account.clone());
            // First wins on duplicates; validation already rejects them for
            // files, and code-built scenarios should not crash the server.
            regions.entry((account, r.region.clone())).or_insert(i);
            let mut idx = RegionIndex::default();
            for (ri, run) in r.assessment_runs.iter().enumerate() {
                idx.run_by_arn.entry(run.arn.clone()).or_insert(ri);
                for (ei, e) in run.exclusions.iter().enumerate() {
                    if let Some(arn) = &e.arn {
                        idx.exclusion_by_arn.entry(arn.clone()).or_insert((ri, ei));
                    }
                }
            }
            for (ai, a) in r.associations.iter().enumerate() {
                if let Some(id) = &a.association_id {
                    idx.association_by_id.entry(id.clone()).or_insert(ai);
                }
            }
            indexes.push(idx);
        }
        World {
            scenario,
            regions,
            indexes,
            known_accounts,
            org_accounts,
            loaded,
            loaded_at,
        }
    }

    /// The organisation, if the scenario has one.
    pub fn organization(&self) -> Option<&OrganizationSpec> {
        self.scenario.organization.as_ref()
    }

    /// How long ago the scenario was loaded.
    pub fn elapsed(&self) -> Duration {
        self.loaded.elapsed()
    }

    /// The organisation's entry for `account`, whether or not it has
    /// joined yet.
    pub fn org_account(&self, account: &str) -> Option<&OrgAccountSpec> {
        let i = *self.org_accounts.get(account)?;
        self.organization()?.accounts.get(i)
    }

    /// Whether `account` belongs to the organisation now.
    pub fn in_organization(&self, account: &str) -> bool {
        let elapsed = self.elapsed();
        self.org_account(account)
            .is_some_and(|a| a.present_at(elapsed))
    }

    /// Whether `account` is the organisation's management account.
    pub fn is_management(&self, account: &str) -> bool {
        self.organization()
            .is_some_and(|o| o.management_account == account)
    }

    /// Whether `account` is Inspector2's delegated administrator.
    pub fn is_delegated_admin(&self, account: &str) -> bool {
        self.organization()
            .is_some_and(|o| o.delegated_admin.as_deref() == Some(account))
    }

    /// When `a` joined: its `joined_at`, or for one that joins after
    /// loading, the moment it does.
    pub fn joined_at(&self, a: &OrgAccountSpec) -> DateTime<Utc> {
        match (a.joined_at, a.joins_after) {
            (Some(t), _) => t.0,
            (None, Some(d)) => {
                self.loaded_at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
            }
            (None, None) => self.loaded_at,
        }
    }

    /// The data `account` holds in `region`.
    pub fn region(&self, account: &str, region: &str) -> Option<(&RegionScenario, &RegionIndex)> {
        let i = *self
            .regions
            .get(&(account.to_string(), region.to_string()))?;
        Some((self.scenario.regions.get(i)?, self.indexes.get(i)?))
    }
}

struct FaultState {
    faults: Faults,
    rng: StdRng,
    /// Calls per operation since the faults were set, for `throttle_first_n`.
    op_calls: HashMap<String, u64>,
    /// The `rate_limit` fault's buckets.
    buckets: Buckets,
}

/// One token bucket of a `rate_limit` fault.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: std::time::Instant,
}

impl Bucket {
    fn full(limit: &RateLimit, now: std::time::Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            refilled: now,
        }
    }

    /// Refills for the time since the last call and takes a token if one
    /// is there; a refused call takes nothing, as with AWS.
    fn take(&mut self, limit: &RateLimit, now: std::time::Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl FaultState {
    fn new(faults: Faults) -> FaultState {
        let rng = match faults.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        FaultState {
            faults,
            rng,
            op_calls: HashMap::new(),
            buckets: HashMap::new(),
        }
    }
}

/// (service, operation, region) → (calls, faulted calls).
type Counters = BTreeMap<(String, String, String), (u64, u64)>;

/// State shared by the handle and every request.
pub(crate) struct Shared {
    world: RwLock<Arc<World>>,
    faults: Mutex<FaultState>,
    counters: Mutex<Counters>,
    /// Exclusion ARNs whose one scripted failure has been served.
    pub failed_once: Mutex<HashSet<String>>,
    request_seq: AtomicU64,
    /// Account → (issued, denied) AssumeRole calls.
    assume_roles: Mutex<BTreeMap<String, (u64, u64)>>,
}

/// Locks a mutex even if a panicking thread poisoned it: the guarded data
/// are counters and sets that stay consistent at every await point.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(scenario: Scenario) -> Shared {
        let faults = scenario.faults.clone();
        Shared {
            world: RwLock::new(Arc::new(World::new(scenario))),
            faults: Mutex::new(FaultState::new(faults)),
            counters: Mutex::new(BTreeMap::new()),
            failed_once: Mutex::new(HashSet::new()),
            request_seq: AtomicU64::new(0),
            assume_roles: Mutex::new(BTreeMap::new()),
        }
    }

    fn world(&self) -> Arc<World> {
        self.world.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_scenario(&self, scenario: Scenario) {
        let faults = scenario.faults.clone();
        let world = Arc::new(World::new(scenario));
        *self.world.write().unwrap_or_else(|e| e.into_inner()) = world;
        lock(&self.failed_once).clear();
        self.set_faults(faults);
    }

    fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = FaultState::new(faults);
    }

    fn calls(&self) -> Vec<CallCount> {
        lock(&self.counters)
            .iter()
            .map(
                |((service, operation, region), (calls, faults))| CallCount {
                    service: service.clone(),
                    operation: operation.clone(),
                    region: region.clone(),
                    calls: *calls,
                    faults: *faults,
                },
            )
            .collect()
    }

    /// Counts one AssumeRole into `account`'s roles.
    pub(crate) fn record_assume_role(&self, account: &str, denied: bool) {
        let mut c = lock(&self.assume_roles);
        let e = c.entry(account.to_string()).or_insert((0, 0));
        if denied {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }

    fn assume_role_counts(&self) -> Vec<AssumeRoleCount> {
        lock(&self.assume_roles)
            .iter()
            .map(|(account, (issued, denied))| AssumeRoleCount {
                account: account.clone(),
                issued: *issued,
                denied: *denied,
            })
            .collect()
    }

    fn count(&self, service: &str, op: &str, region: &str, fault: bool) {
        let mut c = lock(&self.counters);
        let e = c
            .entry((service.to_string(), op.to_string(), region.to_string()))
            .or_insert((0, 0));
        e.0 += 1;
        if fault {
            e.1 += 1;
        }
    }

    fn request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed);
        crate::scenario::stable_uuid(&["request", &n.to_string()])
    }
}

/// Starts simulated AWS servers.
pub struct SimServer;

impl SimServer {
    /// Serves `scenario` on an ephemeral port of 127.0.0.1.
    pub async fn start(scenario: Scenario) -> Result<SimHandle, SimError> {
        SimServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), scenario).await
    }

    /// Serves `scenario` on `addr`.
    pub async fn start_on(addr: SocketAddr, scenario: Scenario) -> Result<SimHandle, SimError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let shared = Arc::new(Shared::new(scenario));
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                // A dropped sender also means stop.
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulated AWS server failed");
            }
        });
        tracing::info!(%addr, "simulated AWS listening");
        Ok(SimHandle {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running simulated AWS. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The endpoint URL to give the SDK, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the scenario, and with it the faults, and forgets which
    /// scripted failures were served. Counters are kept.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.set_scenario(scenario);
    }

    /// Replaces the faults in force; `throttle_first_n` counts restart.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// All call counters, sorted by service, operation and region.
    pub fn calls(&self) -> Vec<CallCount> {
        self.shared.calls()
    }

    /// Calls of `service`/`operation`, summed over regions.
    pub fn call_count(&self, service: &str, operation: &str) -> u64 {
        self.calls()
            .iter()
            .filter(|c| c.service == service && c.operation == operation)
            .map(|c| c.calls)
            .sum()
    }

    /// AssumeRole calls per account whose role was assumed, sorted by account.
    pub fn assume_role_counts(&self) -> Vec<AssumeRoleCount> {
        self.shared.assume_role_counts()
    }

    /// Credentials issued by AssumeRole for roles of `account`.
    pub fn credentials_issued(&self, account: &str) -> u64 {
        self.assume_role_counts()
            .iter()
            .find(|c| c.account == account)
            .map_or(0, |c| c.issued)
    }

    /// Stops accepting connections and waits for in-flight calls.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Runs until the server stops (for a foreground `blindspot sim`).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The application: admin routes plus every AWS call as the fallback.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/healthz", get(healthz))
        .route("/_sim/calls", get(admin_calls))
        .route("/_sim/assume_role", get(admin_assume_role))
        .route("/_sim/scenario", axum::routing::put(admin_scenario))
        .route(
            "/_sim/faults",
            axum::routing::put(admin_put_faults).get(admin_get_faults),
        )
        .fallback(aws_call)
        // Generated scenarios of 100k resources are tens of megabytes.
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(shared)
}

async fn healthz(State(shared): State<Arc<Shared>>) -> axum::Json<serde_json::Value> {
    let world = shared.world();
    axum::Json(json!({"status": "ok", "scenario": world.scenario.name}))
}

async fn admin_calls(State(shared): State<Arc<Shared>>) -> axum::Json<Vec<CallCount>> {
    axum::Json(shared.calls())
}

async fn admin_assume_role(State(shared): State<Arc<Shared>>) -> axum::Json<Vec<AssumeRoleCount>> {
    axum::Json(shared.assume_role_counts())
}

async fn admin_get_faults(State(shared): State<Arc<Shared>>) -> axum::Json<Faults> {
    axum::Json(lock(&shared.faults).faults.clone())
}

fn admin_error(message: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(json!({ "error": message }).to_string()));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn admin_scenario(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(e) => return admin_error(format!("scenario is not UTF-8: {e}")),
    };
    // Parsing 100k resources takes a while; keep it off the async workers.
    let text = text.to_string();
    let parsed = tokio::task::spawn_blocking(move || Scenario::from_toml_str(&text)).await;
    match parsed {
        Ok(Ok(scenario)) => {
            let shared2 = shared.clone();
            let _ = tokio::task::spawn_blocking(move || shared2.set_scenario(scenario)).await;
            axum::Json(json!({"status": "ok"})).into_response()
        }
        Ok(Err(e)) => admin_error(e.to_string()),
        Err(e) => admin_error(format!("scenario load failed: {e}")),
    }
}

async fn admin_put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => match f.validate() {
            Ok(()) => {
                shared.set_faults(f);
                axum::Json(json!({"status": "ok"})).into_response()
            }
            Err(e) => admin_error(e),
        },
        Err(e) => admin_error(format!("bad faults JSON: {e}")),
    }
}

/// The parsed SigV4 credential scope.
struct Scope {
    access_key: String,
    region: String,
    service: String,
}

/// Reads `Credential=AKID/date/region/service/aws4_request` from the
/// Authorization header. Signatures are not verified: the simulator only
/// needs to know who is calling where.
fn parse_scope(headers: &HeaderMap) -> Result<Scope, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let garbled = || {
        ApiError::bad_request(
            "IncompleteSignatureException",
            "Authorization header requires a 'Credential' parameter of the form AKID/date/region/service/aws4_request.",
        )
    };
    let value = value.to_str().map_err(|_| garbled())?;
    let rest = value.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(garbled)?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))
        .ok_or_else(garbled)?;
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [akid, _date, region, service, "aws4_request"]
            if !akid.is_empty() && !region.is_empty() && !service.is_empty() =>
        {
            Ok(Scope {
                access_key: (*akid).to_string(),
                region: (*region).to_string(),
                service: (*service).to_string(),
            })
        }
        _ => Err(garbled()),
    }
}

/// Works out the protocol, the service the request is shaped for, and the
/// operation, from what the SDK puts on the wire.
fn identify(headers: &HeaderMap, uri: &Uri, body: &[u8]) -> (Protocol, &'static str, String) {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = match prefix {
            "InspectorService" => "inspector",
            "AmazonSSM" => "ssm",
            "AmazonEC2ContainerRegistry_V20150921" => "ecr",
            "AWSOrganizationsV20161128" => "organizations",
            _ => "unknown",
        };
        return (Protocol::AwsJson, service, op.to_string());
    }
    if let Some(op) = inspector2::operation_for_path(uri.path()) {
        return (Protocol::RestJson, "inspector2", op.to_string());
    }
    if let Some(op) = lambda::operation_for_path(uri.path()) {
        return (Protocol::RestJson, "lambda", op.to_string());
    }
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let op = sts::form_value(body, "Action").unwrap_or_default();
        return (Protocol::Query, "sts", op);
    }
    if uri.path() == "/" {
        (Protocol::AwsJson, "unknown", String::new())
    } else {
        (Protocol::RestJson, "inspector2", uri.path().to_string())
    }
}

fn dispatch(service: &str, op: &str) -> Option<Handler> {
    match service {
        "inspector" => classic::handler(op),
        "ssm" => ssm::handler(op),
        "inspector2" => inspector2::handler(op),
        "lambda" => lambda::handler(op),
        "ecr" => ecr::handler(op),
        "sts" => sts::handler(op),
        "organizations" => organizations::handler(op),
        _ => None,
    }
}

/// A query string as a JSON object of (percent-decoded) strings.
fn query_json(query: &str) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(k),
                serde_json::Value::String(percent_decode(v)),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Buckets of the `rate_limit` fault, by (account, region, service, operation).
type Buckets = HashMap<(String, String, String, String), Bucket>;

/// Whether a `rate_limit` fault refuses this call.
fn rate_limited(
    faults: &Faults,
    buckets: &mut Buckets,
    account: &str,
    region: &str,
    service: &str,
    op: &str,
) -> bool {
    let Some(limit) = faults.rate_limit_of(op) else {
        return false;
    };
    let now = std::time::Instant::now();
    let key = (
        account.to_string(),
        region.to_string(),
        service.to_string(),
        op.to_string(),
    );
    let bucket = buckets
        .entry(key)
        .or_insert_with(|| Bucket::full(limit, now));
    !bucket.take(limit, now)
}

/// What the faults in force do to one call.
struct Drawn {
    /// The error the call is answered with instead of its answer.
    fault: Option<ApiError>,
    /// Latency to add before answering.
    latency: Duration,
    /// Members to remove from the answer.
    omitted: Vec<String>,
}

/// The fault, if any, this call is answered with, the latency to add, and
/// the members to leave out of its answer.
fn draw_fault(shared: &Shared, service: &str, op: &str, region: &str, account: &str) -> Drawn {
    let mut st = lock(&shared.faults);
    let st = &mut *st;
    let seen = st.op_calls.entry(op.to_string()).or_insert(0);
    *seen += 1;
    let nth = *seen;
    let f = &st.faults;
    let jitter = if f.jitter_ms > 0 {
        st.rng.gen_range(0..=f.jitter_ms)
    } else {
        0
    };
    let latency = Duration::from_millis(
        f.latency_ms
            .saturating_add(jitter)
            .saturating_add(f.service_latency_ms.get(service).copied().unwrap_or(0)),
    );
    let fault = if service == "inspector" && f.classic_retired_in(region) {
        Some(classic_retired(f.retired_shape, op))
    } else if f
        .access_denied
        .iter()
        .any(|r| r.matches(region, service, account, op))
    {
        Some(access_denied(service, op))
    } else if rate_limited(f, &mut st.buckets, account, region, service, op)
        || f.throttle_first_n.get(op).is_some_and(|n| nth <= *n)
        || (f.throttle_probability > 0.0 && st.rng.gen::<f64>() < f.throttle_probability)
    {
        Some(throttled(service))
    } else if f.server_error_probability > 0.0 && st.rng.gen::<f64>() < f.server_error_probability {
        Some(server_error(service))
    } else {
        None
    };
    let omitted = st.faults.omit_members.get(op).cloned().unwrap_or_default();
    Drawn {
        fault,
        latency,
        omitted,
    }
}

/// The answer of a retired Inspector classic, in the configured shape.
fn classic_retired(shape: RetiredShape, op: &str) -> ApiError {
    match shape {
        RetiredShape::UnknownOperation => classic::retired(op),
        RetiredShape::UnrecognizedClient => ApiError::bad_request(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        RetiredShape::Message => ApiError::bad_request(
            "AccessDeniedException",
            "Amazon Inspector Classic is no longer available: it reached its end of support on 2026-05-20.",
        )
        .with("errorCode", "ACCESS_DENIED_TO_ASSESSMENT_RUN")
        .with("canRetry", false),
    }
}

/// Removes every member named in `names` from every object in `value`.
fn omit_members(value: &mut serde_json::Value, names: &[String]) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !names.iter().any(|n| n == k));
            for v in map.values_mut() {
                omit_members(v, names);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                omit_members(v, names);
            }
        }
        _ => {}
    }
}

fn throttled(service: &str) -> ApiError {
    match service {
        "inspector2" => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ThrottlingException",
                "Rate exceeded",
            );
            e.retry_after = Some(1);
            e
        }
        "sts" => ApiError::bad_request("Throttling", "Rate exceeded"),
        // Lambda's own throttling shape: 429 with `Type` and `retryAfterSeconds`.
        "lambda" => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate exceeded",
            )
            .with("Type", "User")
            .with("Reason", "CallerRateLimitExceeded");
            e.retry_after = Some(1);
            e
        }
        "ssm" => {
            let mut e = ApiError::bad_request("ThrottlingException", "Rate exceeded");
            e.pascal_message = true;
            e
        }
        "organizations" => {
            let mut e = ApiError::bad_request("TooManyRequestsException", "Rate exceeded")
                .with("Type", "RequestRate");
            e.pascal_message = true;
            e
        }
        _ => ApiError::bad_request("ThrottlingException", "Rate exceeded"),
    }
}

fn server_error(service: &str) -> ApiError {
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    match service {
        "inspector" => ApiError::new(status, "InternalException", "Internal error (simulated)")
            .with("canRetry", true),
        "ssm" => {
            let mut e = ApiError::new(status, "InternalServerError", "Internal error (simulated)");
            e.pascal_message = true;
            e
        }
        "inspector2" => ApiError::new(
            status,
            "InternalServerException",
            "Internal error (simulated)",
        ),
        "lambda" => ApiError::new(status, "ServiceException", "Internal error (simulated)")
            .with("Type", "Service"),
        "ecr" => ApiError::new(status, "ServerException", "Internal error (simulated)"),
        "organizations" => {
            let mut e = ApiError::new(status, "ServiceException", "Internal error (simulated)");
            e.pascal_message = true;
            e
        }
        _ => ApiError::new(status, "InternalFailure", "Internal error (simulated)"),
    }
}

/// The answer to a call signed with credentials whose session has ended:
/// STS's `ExpiredToken`, elsewhere `ExpiredTokenException`.
fn expired_token(protocol: Protocol) -> ApiError {
    let msg = "The security token included in the request is expired";
    match protocol {
        Protocol::Query => ApiError::bad_request("ExpiredToken", msg),
        _ => ApiError::bad_request("ExpiredTokenException", msg),
    }
}

fn access_denied(service: &str, op: &str) -> ApiError {
    let msg = format!("User is not authorized to perform: {service}:{op} (simulated)");
    match service {
        "inspector" => ApiError::bad_request("AccessDeniedException", msg)
            .with("errorCode", "ACCESS_DENIED_TO_ASSESSMENT_RUN")
            .with("canRetry", false),
        "ssm" => {
            let mut e = ApiError::bad_request("AccessDeniedException", msg);
            e.pascal_message = true;
            e
        }
        "sts" => ApiError::new(StatusCode::FORBIDDEN, "AccessDenied", msg),
        // awsJson1_1 services answer 400; the restJson1 ones (Inspector2,
        // Lambda) 403.
        "ecr" => ApiError::bad_request("AccessDeniedException", msg),
        "organizations" => {
            let mut e = ApiError::bad_request("AccessDeniedException", msg);
            e.pascal_message = true;
            e
        }
        _ => ApiError::new(StatusCode::FORBIDDEN, "AccessDeniedException", msg),
    }
}

async fn aws_call(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let request_id = shared.request_id();
    let (protocol, shaped_for, op) = identify(&headers, &uri, &body);
    // restJson1 `GET`s carry their members in the query string: handlers
    // read them as a JSON object of strings, like any other body.
    let body = match uri.query() {
        Some(query) if body.is_empty() && protocol == Protocol::RestJson => {
            Bytes::from(query_json(query).to_string())
        }
        _ => body,
    };
    let scope = match parse_scope(&headers) {
        Ok(s) => s,
        Err(e) => return error_response(protocol, &request_id, &e),
    };
    if shaped_for != "unknown" && shaped_for != scope.service {
        let e = ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to correct service: '{shaped_for}', not '{}'.",
                scope.service
            ),
        );
        return error_response(protocol, &request_id, &e);
    }
    let world = shared.world();
    let account = world
        .scenario
        .access_keys
        .get(&scope.access_key)
        .cloned()
        .or_else(|| sts::assumed_role_account(&scope.access_key))
        .unwrap_or_else(|| world.scenario.default_account.clone());
    let service = scope.service.as_str();
    let region = scope.region.as_str();

    let Some(handler) = dispatch(service, &op) else {
        shared.count(service, &op, region, false);
        let e = if protocol == Protocol::RestJson {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("No operation at {}", uri.path()),
            )
        } else {
            ApiError::unknown_operation(&op)
        };
        return error_response(protocol, &request_id, &e);
    };

    // Credentials AssumeRole issued stop working when their session ends,
    // as AWS's do: a client must have refreshed them before.
    if sts::assumed_role_account(&scope.access_key).is_some() {
        let token = headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok());
        if let Some(expiry) = token.and_then(sts::session_expiry) {
            if expiry <= Utc::now() {
                shared.count(service, &op, region, false);
                return error_response(protocol, &request_id, &expired_token(protocol));
            }
        }
    }

    let Drawn {
        fault,
        latency,
        omitted,
    } = draw_fault(&shared, service, &op, region, &account);
    shared.count(service, &op, region, fault.is_some());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(e) = fault {
        return error_response(protocol, &request_id, &e);
    }
    let ctx = Ctx {
        world: &world,
        region,
        account: &account,
        access_key: &scope.access_key,
        shared: &shared,
    };
    match handler(&ctx, &body) {
        Ok(mut value) => {
            if !omitted.is_empty() {
                omit_members(&mut value, &omitted);
            }
            match protocol {
                Protocol::Query => sts::xml_response(&request_id, &op, &value),
                _ => json_response(protocol, &request_id, &value),
            }
        }
        Err(e) => error_response(protocol, &request_id, &e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", auth.parse().unwrap());
        h
    }

    #[test]
    fn scope_is_read_from_the_credential() {
        let s = parse_scope(&headers(
            "AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-1/ssm/aws4_request, SignedHeaders=host, Signature=abc",
        ))
        .unwrap();
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str(), s.service.as_str()),
            ("AKID", "eu-west-1", "ssm")
        );
        for bad in [
            "Basic abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-1",
            "AWS4-HMAC-SHA256 SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=/20261122/eu-west-1/ssm/aws4_request",
        ] {
            let e = parse_scope(&headers(bad)).err().unwrap();
            assert_eq!(e.code, "IncompleteSignatureException", "{bad}");
        }
        assert_eq!(
            parse_scope(&HeaderMap::new()).err().unwrap().status,
            StatusCode::FORBIDDEN
        );
    }
}
