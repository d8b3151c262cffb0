//! ECR (`ecr`, awsJson1_1, API version 2015-09-21, target prefix
//! `AmazonEC2ContainerRegistry_V20150921`): DescribeRepositories only, which
//! blindspot asks to learn whether a region has any repository.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::paging;
use crate::wire::{parse_body, ApiError, Ctx, Handler};

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "DescribeRepositories" => describe_repositories,
        _ => return None,
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidParameterException", message)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeRepositoriesRequest {
    registry_id: Option<String>,
    #[serde(default)]
    repository_names: Vec<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn describe_repositories(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: DescribeRepositoriesRequest = parse_body(body)?;
    // The model: names cannot be combined with paging.
    if !req.repository_names.is_empty() && (req.max_results.is_some() || req.next_token.is_some()) {
        return Err(invalid(
            "maxResults and nextToken cannot be used with repositoryNames.",
        ));
    }
    // `MaxResults`: 1 to 1000, default 100.
    let size = paging::page_size(req.max_results, 100, 1, 1000, "maxResults").map_err(invalid)?;
    let registry = req.registry_id.as_deref().unwrap_or(ctx.account);
    let fp = paging::fingerprint(&(
        "DescribeRepositories",
        ctx.account,
        ctx.region,
        &req.repository_names,
    ));
    let start = paging::start(req.next_token.as_deref(), fp, || {
        invalid("Invalid parameter at 'nextToken' failed to satisfy constraint.")
    })?;
    let all = if registry == ctx.account {
        ctx.data()
            .map(|(r, _)| r.ecr_repositories.names("repository"))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if let Some(missing) = req.repository_names.iter().find(|n| !all.contains(n)) {
        return Err(ApiError::bad_request(
            "RepositoryNotFoundException",
            format!(
                "The repository with name '{missing}' does not exist in the registry with id \
                 '{registry}'"
            ),
        ));
    }
    let wanted = |n: &String| req.repository_names.is_empty() || req.repository_names.contains(n);
    let (page, next) = paging::page(&all, start, size, wanted);
    let repositories: Vec<Value> = page
        .iter()
        .map(|name| {
            json!({
                "repositoryArn": format!("arn:aws:ecr:{}:{registry}:repository/{name}", ctx.region),
                "registryId": registry,
                "repositoryName": name,
                "repositoryUri": format!("{registry}.dkr.ecr.{}.amazonaws.com/{name}", ctx.region),
                "createdAt": 1_700_000_000.0,
                "imageTagMutability": "MUTABLE",
                "imageScanningConfiguration": { "scanOnPush": false },
                "encryptionConfiguration": { "encryptionType": "AES256" },
            })
        })
        .collect();
    let mut out = json!({ "repositories": repositories });
    paging::attach(&mut out, "nextToken", next, fp);
    Ok(out)
}
