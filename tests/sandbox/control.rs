//! The control surface over HTTP: clock moves and fault switches.

use serde_json::json;

use crate::common::{client, post_json, start, status_json};

#[tokio::test]
async fn clock_is_set_and_advanced_over_http() {
    let sb = start().await;
    let url = format!("{}/sandbox/clock", sb.base_url());
    let (status, body) = post_json(&url, &json!({"set": 1_000})).await;
    assert_eq!(
        (status, body),
        (200, json!({"now": 1_000, "clock_pinned": true}))
    );
    let (_, body) = post_json(&url, &json!({"advance_secs": 299})).await;
    assert_eq!(body["now"], 1_299);
    assert_eq!(sb.now(), 1_299);
    let (status, _) = post_json(&url, &json!({"jump": 1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn faults_are_added_listed_and_cleared_over_http() {
    let sb = start().await;
    let url = format!("{}/sandbox/faults", sb.base_url());
    let (status, body) = post_json(&url, &json!({"faults": ["dapi.connect:503,count=1"]})).await;
    assert_eq!(
        (status, body),
        (200, json!({"faults": ["dapi.connect:503,count=1"]}))
    );
    let (status, body) = post_json(&sb.connect_url(), &json!({})).await;
    assert_eq!(
        (status, body),
        (503, json!({"error": "sandbox_fault", "status": 503}))
    );
    assert_eq!(post_json(&sb.connect_url(), &json!({})).await.0, 200);

    post_json(&url, &json!({"faults": ["dapi.*:500"]})).await;
    let (_, body) = status_json(client().get(&url).send().await.unwrap()).await;
    assert_eq!(body, json!({"faults": ["dapi.*:500"]}));
    let (status, body) = status_json(client().delete(&url).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"faults": []})));
    assert_eq!(post_json(&sb.connect_url(), &json!({})).await.0, 200);

    let (status, body) = post_json(&url, &json!({"faults": ["dapi.nope:500"]})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown fault route")
    );
    assert_eq!(sb.request_count("dapi.connect"), 3);
}
