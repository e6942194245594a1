//! The claim sets of Dapi's JWTs, field for field as in seed 002's samples.
//!
//! Structs rather than `json!` because the field order is part of what the
//! seed shows: a sandbox token's header and payload segments are byte-equal to
//! the seed's when the inputs are the same.

use serde::Serialize;

/// Every scope name a Dapi connection can be granted.
pub const DAPI_SCOPES: &[&str] = &[
    "authentication.create",
    "identity.get",
    "accounts.get",
    "balance.get",
    "transactions.get",
    "beneficiaries.get",
    "beneficiaries.create",
    "transfer.create",
    "cards.get",
    "statements.get",
];

/// Claims of an access code (`salt, appKey, tokenID, iat, exp`).
#[derive(Debug, Serialize)]
pub(crate) struct CodeClaims<'a> {
    pub salt: &'a str,
    #[serde(rename = "appKey")]
    pub app_key: &'a str,
    #[serde(rename = "tokenID")]
    pub token_id: &'a str,
    pub iat: i64,
    pub exp: i64,
}

/// Claims of a permanent access token: no `exp`.
#[derive(Debug, Serialize)]
pub(crate) struct TokenClaims<'a> {
    pub salt: &'a str,
    #[serde(rename = "appKey")]
    pub app_key: &'a str,
    #[serde(rename = "tokenID")]
    pub token_id: &'a str,
    pub authorizations: Authorizations,
    pub iat: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Authorizations {
    authentication: Create,
    identity: Get,
    accounts: Get,
    balance: Get,
    transactions: Get,
    beneficiaries: GetCreate,
    transfer: Create,
    cards: Get,
    statements: Get,
    products: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Create {
    create: bool,
}

#[derive(Debug, Serialize)]
struct Get {
    get: bool,
}

#[derive(Debug, Serialize)]
struct GetCreate {
    get: bool,
    create: bool,
}

impl Authorizations {
    pub(crate) fn new(scopes: &[String], products: &[String]) -> Self {
        let has = |s: &str| scopes.iter().any(|g| g == s);
        let get = |s: &str| Get { get: has(s) };
        Self {
            authentication: Create {
                create: has("authentication.create"),
            },
            identity: get("identity.get"),
            accounts: get("accounts.get"),
            balance: get("balance.get"),
            transactions: get("transactions.get"),
            beneficiaries: GetCreate {
                get: has("beneficiaries.get"),
                create: has("beneficiaries.create"),
            },
            transfer: Create {
                create: has("transfer.create"),
            },
            cards: get("cards.get"),
            statements: get("statements.get"),
            products: products.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorizations_match_the_seed_shape() {
        let auth = Authorizations::new(
            &["authentication.create".to_owned()],
            &["data".to_owned(), "payment".to_owned()],
        );
        let expected = r#"{"authentication":{"create":true},"identity":{"get":false},"accounts":{"get":false},"balance":{"get":false},"transactions":{"get":false},"beneficiaries":{"get":false,"create":false},"transfer":{"create":false},"cards":{"get":false},"statements":{"get":false},"products":["data","payment"]}"#;
        assert_eq!(serde_json::to_string(&auth).unwrap(), expected);
    }
}
