//! What `inspector2-coverage` asks Inspector v2, and nothing else: the
//! account's enablement and scan configuration as a plain [`Header`], and each
//! ListCoverage pass as a stream of pages. Nothing here judges an answer; a
//! failed call is an error, never an empty answer.

use blindspot_aws::inspector2::{
    AccountStatus, AccountStatusBatch, CoverageFilter, CoveredResource,
    Ec2DeepInspectionConfiguration, Inspector2Configuration, StringFilter,
};
use blindspot_aws::paginate::{pages, Listing};
use blindspot_aws::{AwsClients, AwsError, EcrApi, Inspector2Api, LambdaApi, SsmApi};
use futures::{Stream, TryStreamExt};

/// The paged call, for the pagination helper's guards and error messages.
const LIST_COVERAGE: Listing = Listing::new("inspector2", "ListCoverage");
const DESCRIBE_INSTANCE_INFORMATION: Listing = Listing::new("ssm", "DescribeInstanceInformation");

/// What a presence call learnt about the resources of one kind in the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// `count` resources were seen; `exact` when the listing was read to its
    /// end, otherwise `count` is a lower bound ("at least"). Lambda and ECR
    /// are asked for one item only, so they answer "none" or "at least 1".
    Found {
        /// How many were seen.
        count: u64,
        /// Whether that is all of them.
        exact: bool,
    },
    /// The call failed (denied, throttled...): presence is unknown, which
    /// must never read as "none found".
    Unchecked(String),
}

impl Presence {
    /// Whether the region certainly holds none.
    pub fn none_found(&self) -> bool {
        matches!(self, Presence::Found { count: 0, .. })
    }
}

/// The SSM managed nodes of the region, counted by paging through
/// DescribeInstanceInformation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManagedNodes {
    /// Every managed node.
    pub total: u64,
    /// Those whose `PlatformType` is `Linux`, where deep inspection applies.
    pub linux: u64,
}

/// What the account-level calls answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// BatchGetAccountStatus for the scope's account, as answered: the judge
    /// decides what a missing or failed account means.
    pub status: AccountStatusBatch,
    /// GetConfiguration; `None` when it was not asked because Inspector is not
    /// enabled for the account, where there is no scan mode to read.
    pub configuration: Option<Inspector2Configuration>,
    /// Whether the region has Lambda functions (ListFunctions, `MaxItems=1`);
    /// asked only where Lambda standard or code scanning is not enabled.
    pub lambda_functions: Option<Presence>,
    /// Whether the region has ECR repositories (DescribeRepositories,
    /// `maxResults=1`); asked only where ECR scanning is not enabled.
    pub ecr_repositories: Option<Presence>,
    /// The SSM managed nodes, counted; asked where EC2 scanning is not
    /// enabled, or where deep inspection is not known to be on. An error is
    /// the failed call's text.
    pub managed_nodes: Option<Result<ManagedNodes, String>>,
    /// GetEc2DeepInspectionConfiguration; asked only where EC2 scanning is
    /// enabled. An error is the failed call's text.
    pub deep_inspection: Option<Result<Ec2DeepInspectionConfiguration, String>>,
    /// DescribeInstanceInformation pages read.
    pub node_pages: u64,
}

impl Header {
    /// How many calls the header took, by operation, for the report's counts.
    pub fn calls(&self) -> [(&'static str, u64); 6] {
        [
            ("BatchGetAccountStatus", 1),
            ("GetConfiguration", u64::from(self.configuration.is_some())),
            ("ListFunctions", u64::from(self.lambda_functions.is_some())),
            (
                "DescribeRepositories",
                u64::from(self.ecr_repositories.is_some()),
            ),
            ("DescribeInstanceInformation", self.node_pages),
            (
                "GetEc2DeepInspectionConfiguration",
                u64::from(self.deep_inspection.is_some()),
            ),
        ]
    }

    /// EC2 scanning's presence: the managed nodes, exactly counted.
    pub fn ec2_presence(&self) -> Option<Presence> {
        self.managed_nodes.as_ref().map(|nodes| match nodes {
            Ok(n) => Presence::Found {
                count: n.total,
                exact: true,
            },
            Err(e) => Presence::Unchecked(e.clone()),
        })
    }
}

/// Deep inspection statuses that need no look at the nodes: on, or on its way.
const DEEP_INSPECTION_ON: &[&str] = &["ACTIVATED", "PENDING"];

/// Reads the header of one evaluation.
///
/// GetConfiguration is skipped unless BatchGetAccountStatus reports Inspector
/// `ENABLED` for the account: a disabled region has no scan mode, may refuse
/// the call, and its disablement must be reported rather than turned into an
/// error by a call that could not help. Where Inspector is enabled, each scan
/// type that is not `ENABLED` has the presence of its resources asked (one
/// Lambda call serves both Lambda scan types), and where EC2 scanning is
/// enabled, deep inspection is read. Presence and deep inspection failures
/// are kept as values, never errors: the enablement itself was read fine, and
/// the judge reports them as "could not be checked".
pub async fn header(clients: &AwsClients, account: &str) -> Result<Header, AwsError> {
    let api = clients.inspector2.as_ref();
    let status = api.batch_get_account_status(&[account.to_owned()]).await?;
    let own = status
        .accounts
        .iter()
        .find(|a| a.account_id == account && a.state.status == "ENABLED")
        .cloned();
    let Some(own) = own else {
        return Ok(Header {
            status,
            ..Header::default()
        });
    };
    let configuration = Some(api.get_configuration().await?);
    let off = |state: &Option<blindspot_aws::inspector2::EnablementState>| {
        state.as_ref().is_none_or(|s| s.status != "ENABLED")
    };
    let lambda_functions = if off(&own.lambda) || off(&own.lambda_code) {
        Some(lambda_presence(clients.lambda.as_ref()).await)
    } else {
        None
    };
    let ecr_repositories = if off(&own.ecr) {
        Some(ecr_presence(clients.ecr.as_ref()).await)
    } else {
        None
    };
    let deep_inspection = if ec2_enabled(&own) {
        Some(
            api.get_ec2_deep_inspection_configuration()
                .await
                .map_err(|e| e.to_string()),
        )
    } else {
        None
    };
    let deep_on = matches!(&deep_inspection, Some(Ok(d))
        if d.status.as_deref().is_some_and(|s| DEEP_INSPECTION_ON.contains(&s)));
    let mut node_pages = 0;
    let managed_nodes = if off(&own.ec2) || !deep_on {
        Some(
            managed_nodes(clients.ssm.as_ref(), &mut node_pages)
                .await
                .map_err(|e| e.to_string()),
        )
    } else {
        None
    };
    Ok(Header {
        status,
        configuration,
        lambda_functions,
        ecr_repositories,
        managed_nodes,
        deep_inspection,
        node_pages,
    })
}

fn ec2_enabled(status: &AccountStatus) -> bool {
    status.ec2.as_ref().is_some_and(|s| s.status == "ENABLED")
}

/// One page of a listing asked for one item: "none", or "at least" what it
/// holds when the service has more. A probe of one call, not a walk, so it
/// does not go through the pagination helper.
fn probe(answer: Result<blindspot_aws::Page<String>, AwsError>) -> Presence {
    match answer {
        Ok(page) => Presence::Found {
            count: page.items.len() as u64,
            exact: page.next_token.is_none(),
        },
        Err(e) => Presence::Unchecked(e.to_string()),
    }
}

/// ListFunctions with `MaxItems=1`: none, or at least one.
pub async fn lambda_presence(api: &dyn LambdaApi) -> Presence {
    probe(api.list_functions(1, None).await)
}

/// DescribeRepositories with `maxResults=1`: none, or at least one.
pub async fn ecr_presence(api: &dyn EcrApi) -> Presence {
    probe(api.describe_repositories(1, None).await)
}

/// Counts the managed nodes, a page at a time.
pub async fn managed_nodes(api: &dyn SsmApi, calls: &mut u64) -> Result<ManagedNodes, AwsError> {
    let mut nodes = ManagedNodes::default();
    let mut stream = std::pin::pin!(pages(DESCRIBE_INSTANCE_INFORMATION, |token| {
        api.describe_instance_information(token)
    }));
    while let Some(page) = stream.try_next().await? {
        *calls += 1;
        for node in page {
            nodes.total += 1;
            if node.platform_type.as_deref() == Some("Linux") {
                nodes.linux += 1;
            }
        }
    }
    Ok(nodes)
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
