//! Scopes granted and denied to a connection.
//!
//! Dapi encodes permissions as a nested `authorizations` claim
//! (`{"identity":{"get":false},"products":["data"]}`); OAuth and OIDC send a
//! space-separated `scope` string. Both become one flat, sorted list of
//! `resource.action` names so the screen can show one grid for every family.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::text::{columns, cut};

/// One sorted list of scope names. Shared, not owned: the connections of one
/// provider and consent hold the same few lists, and a store of 100 000
/// connections read into memory keeps each distinct list once.
pub type ScopeList = Arc<[String]>;

/// Every permission Dapi's documentation names, in the order the screen shows them.
pub const DAPI_SCOPES: [&str; 10] = [
    "identity.get",
    "accounts.get",
    "balance.get",
    "transactions.get",
    "beneficiaries.get",
    "beneficiaries.create",
    "transfer.create",
    "cards.get",
    "statements.get",
    "authentication.create",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes {
    pub granted: ScopeList,
    /// Only Dapi says what it refused; for OAuth this holds requested scopes
    /// the server did not grant.
    pub denied: ScopeList,
    /// Dapi's `products` (`data`, `payment`); empty elsewhere.
    pub products: ScopeList,
}

impl Scopes {
    pub fn granted(list: Vec<String>) -> Self {
        Self {
            granted: list.into(),
            ..Self::default()
        }
    }

    /// Reads Dapi's `authorizations` claim. Unknown shapes are skipped, not fatal:
    /// the claim is for display only.
    pub fn from_dapi(claim: &Value) -> Self {
        let (mut granted, mut denied, mut products) = (Vec::new(), Vec::new(), Vec::new());
        let Some(map) = claim.as_object() else {
            return Scopes::default();
        };
        for (resource, actions) in map {
            if resource == "products" {
                products = strings(actions);
                continue;
            }
            let Some(actions) = actions.as_object() else {
                continue;
            };
            for (action, allowed) in actions {
                let name = format!("{resource}.{action}");
                match allowed.as_bool() {
                    Some(true) => granted.push(name),
                    Some(false) => denied.push(name),
                    None => {}
                }
            }
        }
        granted.sort();
        denied.sort();
        Scopes {
            granted: granted.into(),
            denied: denied.into(),
            products: products.into(),
        }
    }

    /// OAuth: granted is what the token response says (RFC 6749 §5.1), else what
    /// was asked for; whatever was asked for and not granted counts as denied.
    pub fn from_oauth(response_scope: Option<&str>, requested: &[String]) -> Self {
        let granted = match response_scope {
            Some(s) => split_scope(s),
            None => requested.to_vec(),
        };
        let denied = requested
            .iter()
            .filter(|r| !granted.contains(r))
            .cloned()
            .collect::<Vec<_>>();
        Self {
            granted: granted.into(),
            denied: denied.into(),
            products: ScopeList::default(),
        }
    }

    /// A table cell's form within `width` columns: the names themselves when
    /// they fit (`accounts payments`), else the count granted of those named
    /// (`3/10 +data,payment`), else the count alone; cut only when even that
    /// does not fit. The detail pane's grid has every name.
    pub fn short_within(&self, width: usize) -> String {
        if self.granted.is_empty() && self.denied.is_empty() {
            return "—".into();
        }
        let products = match self.products.is_empty() {
            true => String::new(),
            false => format!(" +{}", self.products.join(",")),
        };
        let count = format!(
            "{}/{}",
            self.granted.len(),
            self.granted.len() + self.denied.len()
        );
        let names = self.denied.is_empty().then(|| self.granted.join(" "));
        let forms = [
            names.map(|n| n + &products),
            Some(format!("{count}{products}")),
        ];
        forms
            .into_iter()
            .flatten()
            .find(|f| columns(f) <= width)
            .unwrap_or_else(|| cut(&count, width))
    }
}

pub fn split_scope(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oauth_scope_from_response_else_request() {
        let req = vec!["accounts".to_string(), "payments".to_string()];
        let s = Scopes::from_oauth(Some("accounts"), &req);
        assert_eq!(*s.granted, vec!["accounts"]);
        assert_eq!(*s.denied, vec!["payments"]);
        let s = Scopes::from_oauth(None, &req);
        assert_eq!(*s.granted, req);
        assert!(s.denied.is_empty());
    }

    #[test]
    fn dapi_claim_with_odd_shapes_is_skipped() {
        let s = Scopes::from_dapi(&json!({"identity": {"get": true, "x": "y"}, "cards": 3}));
        assert_eq!(*s.granted, vec!["identity.get"]);
        assert!(s.denied.is_empty());
        assert_eq!(Scopes::from_dapi(&json!("nope")), Scopes::default());
    }

    #[test]
    fn short_form_fits_its_width() {
        let plain = Scopes::granted(vec!["openid".into(), "accounts".into()]);
        assert_eq!(plain.short_within(20), "openid accounts");
        assert_eq!(
            plain.short_within(14),
            "2/2",
            "a count when the names do not fit"
        );
        let s = Scopes {
            granted: vec!["a.get".into()].into(),
            denied: vec!["b.get".into(), "c.get".into()].into(),
            products: vec!["data".into(), "payment".into()].into(),
        };
        assert_eq!(
            s.short_within(40),
            "1/3 +data,payment",
            "names only when none is denied"
        );
        assert_eq!(
            s.short_within(16),
            "1/3",
            "the products go before the count"
        );
        assert_eq!(s.short_within(2), "1…");
        assert_eq!(Scopes::default().short_within(20), "—");
    }
}
