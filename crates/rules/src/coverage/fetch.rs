//! What `inspector2-coverage` asks Inspector v2, and nothing else: the
//! account's enablement and scan configuration as a plain [`Header`], and each
//! ListCoverage pass as a stream of pages. Nothing here judges an answer; a
//! failed call is an error, never an empty answer.

use blindspot_aws::inspector2::{
    AccountStatusBatch, CoverageFilter, CoveredResource, Inspector2Configuration, StringFilter,
};
use blindspot_aws::paginate::{pages, Listing};
use blindspot_aws::{AwsError, Inspector2Api};
use futures::Stream;

/// The paged call, for the pagination helper's guards and error messages.
const LIST_COVERAGE: Listing = Listing::new("inspector2", "ListCoverage");

/// What the account-level calls answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// BatchGetAccountStatus for the scope's account, as answered: the judge
    /// decides what a missing or failed account means.
    pub status: AccountStatusBatch,
    /// GetConfiguration; `None` when it was not asked because Inspector is not
    /// enabled for the account, where there is no scan mode to read.
    pub configuration: Option<Inspector2Configuration>,
}

impl Header {
    /// How many calls the header took, by operation, for the report's counts.
    pub fn calls(&self) -> [(&'static str, u64); 2] {
        [
            ("BatchGetAccountStatus", 1),
            ("GetConfiguration", u64::from(self.configuration.is_some())),
        ]
    }
}

/// Reads the header of one evaluation.
///
/// GetConfiguration is skipped unless BatchGetAccountStatus reports Inspector
/// `ENABLED` for the account: a disabled region has no scan mode, may refuse
/// the call, and its disablement must be reported rather than turned into an
/// error by a call that could not help.
pub async fn header(api: &dyn Inspector2Api, account: &str) -> Result<Header, AwsError> {
    let status = api.batch_get_account_status(&[account.to_owned()]).await?;
    let enabled = status
        .accounts
        .iter()
        .any(|a| a.account_id == account && a.state.status == "ENABLED");
    let configuration = if enabled {
        Some(api.get_configuration().await?)
    } else {
        None
    };
    Ok(Header {
        status,
        configuration,
    })
}

/// Which ListCoverage pass a resource came from: the scan status the listing
/// is filtered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    /// `scanStatusCode EQUALS INACTIVE`: resources Inspector does not scan.
    Inactive,
    /// `scanStatusCode EQUALS ACTIVE`: scanned resources, checked for recency.
    Active,
}

impl Pass {
    /// The `scanStatusCode` value the pass filters on.
    pub fn status_code(self) -> &'static str {
        match self {
            Pass::Inactive => "INACTIVE",
            Pass::Active => "ACTIVE",
        }
    }
}

/// The server-side filter of one pass: its status code and the configured
/// resource types, so the service sends nothing the rule would drop.
pub fn filter(resource_types: &[String], pass: Pass) -> CoverageFilter {
    CoverageFilter {
        scan_status_code: vec![equals(pass.status_code())],
        resource_type: resource_types.iter().map(|t| equals(t)).collect(),
        ..CoverageFilter::default()
    }
}

fn equals(value: &str) -> StringFilter {
    StringFilter {
        comparison: "EQUALS".to_owned(),
        value: value.to_owned(),
    }
}

/// One pass of ListCoverage, a page per poll.
///
/// A page is requested only when the stream is polled again, so a consumer
/// that hands each item on and drops the page holds one page (at most 200
/// resources) at a time, whatever the size of the account. The pagination
/// helper fails the stream on a repeated token or an endless listing.
pub fn coverage<'a>(
    api: &'a dyn Inspector2Api,
    resource_types: &[String],
    pass: Pass,
) -> impl Stream<Item = Result<Vec<CoveredResource>, AwsError>> + Send + 'a {
    let filter = filter(resource_types, pass);
    pages(LIST_COVERAGE, move |token| {
        // Each call owns its filter: the future outlives this closure's borrow.
        let filter = filter.clone();
        async move { api.list_coverage(&filter, token).await }
    })
}
