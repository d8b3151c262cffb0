//! Lambda (API version 2015-03-31): only whether a region has functions,
//! which weighs a disabled Lambda scan type.

use async_trait::async_trait;

use crate::{AwsError, Page};

/// ListFunctions returns at most 50 per page, whatever `MaxItems` asks
/// (`MaxListItems` allows 1 to 10000).
pub const LIST_FUNCTIONS_MAX: i32 = 50;

/// The Lambda calls blindspot makes.
#[async_trait]
pub trait LambdaApi: Send + Sync {
    /// ListFunctions: one page of at most `max_items` function names
    /// (`MaxItems`), from `marker` (`Marker`, the previous `NextMarker`).
    async fn list_functions(
        &self,
        max_items: i32,
        marker: Option<String>,
    ) -> Result<Page<String>, AwsError>;
}
