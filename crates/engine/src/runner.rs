//! Evaluating rules: one (rule, scope) safely, and every rule once.
//!
//! Every evaluation runs on its own spawned task so that a panicking rule
//! becomes an `error` evaluation instead of taking its neighbours down, and
//! inside a timeout so that a hanging AWS endpoint cannot stall a rule forever.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use blindspot_core::{
    EvalContext, Evaluation, Finding, PeerError, PeerFindings, PeerRead, Rule, RuleError, Scope,
};
use chrono::Utc;
use futures::stream::{self, StreamExt};
use tokio::task::JoinHandle;

use crate::{Resolved, Target};

/// Options of [`run_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// How many targets of one rule are evaluated at once (at least 1).
    pub concurrency: usize,
    /// The timeout of every evaluation without an entry in `rule_timeouts`.
    pub timeout: Duration,
    /// Per-rule timeouts, by rule ID.
    pub rule_timeouts: BTreeMap<String, Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 4,
            timeout: Duration::from_secs(120),
            rule_timeouts: BTreeMap::new(),
        }
    }
}

impl RunOptions {
    /// The timeout of one rule's evaluations.
    pub fn timeout_for(&self, rule_id: &str) -> Duration {
        self.rule_timeouts
            .get(rule_id)
            .copied()
            .unwrap_or(self.timeout)
    }
}

/// Aborts the task when dropped, so that cancelling whoever awaits an
/// evaluation (a shutdown past its grace) also cancels the evaluation rather
/// than leaving it running detached.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Evaluates `rule` for a resolved target with a timeout, turning every
/// failure (no clients, rule error, timeout, panic) into an evaluation with a
/// status.
///
/// `now` in the context, and `started_at`, are the wall clock at the start.
pub async fn evaluate<C>(
    rule: Arc<dyn Rule<C>>,
    target: &Resolved<C>,
    peers: Arc<dyn PeerFindings>,
    timeout: Duration,
) -> Evaluation
where
    C: ?Sized + Send + Sync + 'static,
{
    let rule_id = rule.meta().id;
    let scope = target.scope.clone();
    let started_at = Utc::now();
    let clients = match &target.clients {
        Ok(clients) => Arc::clone(clients),
        Err(why) => {
            let result = Err(RuleError::Failed(format!("no clients for {scope}: {why}")));
            return Evaluation::from_result(rule_id, &scope, started_at, Utc::now(), result);
        }
    };
    let task_scope = scope.clone();
    let mut handle = AbortOnDrop(tokio::spawn(async move {
        let cx = EvalContext {
            clients: &*clients,
            scope: &task_scope,
            now: started_at,
            peers: &*peers,
        };
        tokio::time::timeout(timeout, rule.evaluate(&cx)).await
    }));
    let result = match (&mut handle.0).await {
        Ok(Ok(result)) => result,
        Ok(Err(_elapsed)) => Err(RuleError::Failed(format!(
            "timed out after {}",
            humanize(timeout)
        ))),
        Err(join) if join.is_panic() => {
            let payload = join.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_owned());
            tracing::error!(rule = rule_id, %scope, message, "rule panicked");
            Err(RuleError::Failed(format!("rule panicked: {message}")))
        }
        Err(_cancelled) => Err(RuleError::Failed("evaluation was cancelled".to_owned())),
    };
    Evaluation::from_result(rule_id, &scope, started_at, Utc::now(), result)
}

/// `90s`, `2m`, `250ms`: short enough for an error message.
fn humanize(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else if d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else {
        format!("{}s", d.as_secs())
    }
}

/// [`PeerFindings`] over the evaluations already finished in one run: what
/// `blindspot check` knows without a store.
#[derive(Debug, Default, Clone)]
pub struct RunPeers {
    declared: Vec<&'static str>,
    findings: HashMap<(String, Scope), Vec<Finding>>,
}

impl RunPeers {
    /// Indexes the findings of `evaluations` that `reads` declares, exactly
    /// as the scheduler would load them from the store, so a rule behaves the
    /// same in `check` and in the daemon. A failed evaluation contributes what
    /// it saw, as it would in the store.
    pub fn new(evaluations: &[Evaluation], reads: &[PeerRead]) -> Self {
        let mut findings: HashMap<(String, Scope), Vec<Finding>> = HashMap::new();
        for e in evaluations {
            for read in reads.iter().filter(|r| r.rule == e.rule) {
                findings
                    .entry((e.rule.clone(), e.scope.clone()))
                    .or_default()
                    .extend(
                        e.findings
                            .iter()
                            .filter(|f| {
                                read.codes.is_empty() || read.codes.contains(&f.code.as_str())
                            })
                            .cloned(),
                    );
            }
        }
        RunPeers {
            declared: reads.iter().map(|r| r.rule).collect(),
            findings,
        }
    }
}

impl PeerFindings for RunPeers {
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        if !self.declared.contains(&rule) {
            return Err(PeerError {
                rule: rule.to_owned(),
                message: "not declared in RuleMeta::reads".to_owned(),
            });
        }
        // A declared peer that found nothing here (or did not run) has no
        // open findings in this run.
        Ok(self
            .findings
            .get(&(rule.to_owned(), scope.clone()))
            .cloned()
            .unwrap_or_default())
    }
}

/// Evaluates every rule over every target once, for `blindspot check`.
///
/// Rules run one after another in the given order, so a later rule sees an
/// earlier one's findings through [`PeerFindings`]; the targets of one rule run
/// concurrently, at most `options.concurrency` at a time. Each target's source
/// is asked before each evaluation (`check` gives fixed ones). The result
/// holds one evaluation per (rule, target), in rule order and then target
/// order.
pub async fn run_once<C>(
    rules: &[Arc<dyn Rule<C>>],
    targets: &[Target<C>],
    options: &RunOptions,
) -> Vec<Evaluation>
where
    C: ?Sized + Send + Sync + 'static,
{
    let concurrency = options.concurrency.max(1);
    let mut done: Vec<Evaluation> = Vec::with_capacity(rules.len() * targets.len());
    for rule in rules {
        let peers: Arc<dyn PeerFindings> = Arc::new(RunPeers::new(&done, rule.meta().reads));
        let timeout = options.timeout_for(rule.meta().id);
        let reach = rule.meta().reach;
        // Unordered, so one slow account does not hold the window while the
        // others' evaluations are done; the target order is restored after,
        // so the output is stable however the evaluations interleave.
        let mut evaluations: Vec<(usize, Evaluation)> = stream::iter(targets.iter().enumerate())
            .filter(|(_, target)| futures::future::ready(target.evaluated_by(reach)))
            .map(|(i, target)| {
                let (rule, peers) = (Arc::clone(rule), Arc::clone(&peers));
                async move {
                    let evaluation = evaluate(rule, &target.resolve().await, peers, timeout).await;
                    (i, evaluation)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        evaluations.sort_by_key(|(i, _)| *i);
        done.extend(evaluations.into_iter().map(|(_, e)| e));
    }
    done
}
