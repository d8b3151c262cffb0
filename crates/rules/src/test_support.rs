//! What every rule's tests need to drive a whole rule (fetch then judge)
//! against the scripted fakes of `blindspot_aws::testing`.

use blindspot_aws::testing::Fakes;
use blindspot_aws::AwsClients;
use blindspot_core::{EvalContext, PeerFindings, Rule, RuleError, RuleReport, Scope};
use chrono::{DateTime, Utc};

/// Evaluates `rule` once in `scope` at `now`, with the fakes as its clients.
pub(crate) async fn evaluate(
    rule: &dyn Rule<AwsClients>,
    fakes: &Fakes,
    scope: &Scope,
    now: DateTime<Utc>,
    peers: &dyn PeerFindings,
) -> Result<RuleReport, RuleError> {
    let clients = fakes.clients();
    let cx = EvalContext {
        clients: &clients,
        scope,
        now,
        peers,
    };
    rule.evaluate(&cx).await
}
