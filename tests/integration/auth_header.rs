//! `X-Auth-Token: <secret>` over real HTTP (issue 7, defect 5): the keystone header that
//! python-melangeclient and the Scaleway SDK send authenticates exactly like
//! `Authorization: Bearer <secret>` — same answers, same 401/403, same actor in the log,
//! same Idempotency-Key scope — and two different secrets in one request are a 400.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Client, Res, TestServer, ADMIN_TOKEN};

const TOKENS: &str = "/v1/auth/tokens";
const INTAKE: &str = "/v1/agent/ipam/request";

fn blocks(tenant: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/ip_blocks")
}

fn block_body(cidr: &str) -> Value {
    json!({"ip_block": {"type": "private", "cidr": cidr}})
}

/// One secret sent two ways: as a bearer token and as `X-Auth-Token`.
struct Pair {
    bearer: Client,
    x_auth: Client,
}

fn pair(srv: &TestServer, secret: &str) -> Pair {
    Pair {
        bearer: srv.with_token(secret),
        x_auth: srv.with_x_auth_token(secret),
    }
}

/// Issues a token as the bootstrap admin; returns (id, secret).
async fn issue(srv: &TestServer, name: &str, role: &str) -> (String, String) {
    let r = srv.post(TOKENS, json!({"name": name, "role": role})).await;
    assert_eq!(r.status, 201, "issue {name}: {}", r.text);
    let t = &r.json["token"];
    (
        t["id"].as_str().expect("id").to_string(),
        t["secret"].as_str().expect("secret").to_string(),
    )
}

/// Sends one request through both headers; asserts the same status and the same body.
async fn alike(p: &Pair, method: Method, path: &str, body: Option<&Value>) -> Res {
    let bearer = p.bearer.send(method.clone(), path, body, &[]).await;
    let x_auth = p.x_auth.send(method.clone(), path, body, &[]).await;
    assert_eq!(
        (x_auth.status, &x_auth.text),
        (bearer.status, &bearer.text),
        "{method} {path}: X-Auth-Token answered unlike Bearer"
    );
    x_auth
}

async fn reads_alike(p: &Pair, path: &str) {
    let r = alike(p, Method::GET, path, None).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
}

async fn forbidden_alike(p: &Pair, method: Method, path: &str, body: Option<&Value>) {
    let r = alike(p, method.clone(), path, body).await;
    assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
    assert_eq!(r.json["Forbidden"]["code"], 403, "{}", r.text);
}

/// The actors of every event appended under `correlation` (read as the bootstrap admin).
async fn actors(srv: &TestServer, correlation: &str) -> Vec<String> {
    let r = srv.get("/v1/events").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["correlation_id"] == correlation)
        .map(|e| e["actor"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Sends a write through each header (two bodies, as a write cannot be repeated as is):
/// asserts the same success status and that the events of both name `actor`. Returns both.
async fn writes_alike(
    srv: &TestServer,
    p: &Pair,
    path: &str,
    bodies: [Value; 2],
    actor: &str,
) -> (Res, Res) {
    let [first, second] = bodies;
    let by_bearer = format!("bearer {actor} {path}");
    let by_x_auth = format!("x-auth {actor} {path}");
    let bearer = p
        .bearer
        .send(
            Method::POST,
            path,
            Some(&first),
            &[("x-correlation-id", &by_bearer)],
        )
        .await;
    let x_auth = p
        .x_auth
        .send(
            Method::POST,
            path,
            Some(&second),
            &[("x-correlation-id", &by_x_auth)],
        )
        .await;
    assert!(bearer.status.is_success(), "{path}: {}", bearer.text);
    assert_eq!(x_auth.status, bearer.status, "{path}: {}", x_auth.text);
    let via_bearer = actors(srv, &by_bearer).await;
    assert!(!via_bearer.is_empty(), "{path}: the bearer write appended");
    assert!(via_bearer.iter().all(|a| a == actor), "{via_bearer:?}");
    let via_x_auth = actors(srv, &by_x_auth).await;
    assert_eq!(via_x_auth.len(), via_bearer.len(), "{via_x_auth:?}");
    assert!(via_x_auth.iter().all(|a| a == actor), "{via_x_auth:?}");
    (bearer, x_auth)
}

/// A 401 with Melange's fault body and the `WWW-Authenticate: Bearer` challenge.
fn unauthorized(r: &Res) {
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["Unauthorized"]["code"], 401, "{}", r.text);
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "WWW-Authenticate: {challenge:?}"
    );
}

#[tokio::test]
async fn x_auth_token_is_authenticated_like_bearer_for_every_role() {
    // Guards defect 5: a client sending its token only as X-Auth-Token (python-melangeclient)
    // was answered 401 on every route, whatever its role.
    let srv = TestServer::start().await;
    let (_, ops) = issue(&srv, "ops", "admin").await;
    let (_, acme) = issue(&srv, "acme-ci", "tenant:acme").await;
    let (_, agent) = issue(&srv, "agent-1", "agent").await;
    let r = srv.post(&blocks("acme"), block_body("10.0.0.0/24")).await;
    assert_eq!(r.status, 201, "{}", r.text);

    for (secret, actor, tenant) in [
        (ADMIN_TOKEN, "admin-bootstrap", "t-boot"),
        (ops.as_str(), "ops", "t-ops"),
    ] {
        let admin = pair(&srv, secret);
        for path in [TOKENS, "/v1/events?stream=auth-tokens", &blocks("acme")] {
            reads_alike(&admin, path).await;
        }
        let bodies = [block_body("10.1.0.0/24"), block_body("10.2.0.0/24")];
        writes_alike(&srv, &admin, &blocks(tenant), bodies, actor).await;
    }

    let tenant = pair(&srv, &acme);
    reads_alike(&tenant, &blocks("acme")).await;
    let bodies = [block_body("10.3.0.0/24"), block_body("10.4.0.0/24")];
    writes_alike(&srv, &tenant, &blocks("acme"), bodies, "acme-ci").await;
    for path in [blocks("globex"), TOKENS.into(), "/v1/events".into()] {
        forbidden_alike(&tenant, Method::GET, &path, None).await;
    }
    let escalate = json!({"name": "escalate", "role": "admin"});
    forbidden_alike(&tenant, Method::POST, TOKENS, Some(&escalate)).await;

    let agent = pair(&srv, &agent);
    let bodies = [json!({"ip": "10.0.0.5"}), json!({"ip": "10.0.0.6"})];
    let (bearer, x_auth) = writes_alike(&srv, &agent, INTAKE, bodies, "agent-1").await;
    assert_eq!(x_auth.json, bearer.json, "the intake's verdict");
    assert_eq!(x_auth.json["valid"], true, "{}", x_auth.text);
    forbidden_alike(&agent, Method::GET, &blocks("acme"), None).await;
    forbidden_alike(&agent, Method::GET, TOKENS, None).await;
    let body = block_body("10.9.0.0/24");
    forbidden_alike(&agent, Method::POST, &blocks("acme"), Some(&body)).await;
}

#[tokio::test]
async fn an_unknown_or_revoked_x_auth_token_is_401_like_bearer() {
    // Guards defect 5's fix against accepting more than Bearer does: an X-Auth-Token that is
    // unknown, revoked or empty must get the same 401 and challenge as a bad bearer token.
    let srv = TestServer::start().await;
    let (id, secret) = issue(&srv, "soon-gone", "admin").await;
    reads_alike(&pair(&srv, &secret), TOKENS).await;
    let revoked = srv.delete(&format!("{TOKENS}/{id}")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    for secret in [secret.as_str(), "ipl_wrong", &format!("{ADMIN_TOKEN}x")] {
        let r = alike(&pair(&srv, secret), Method::GET, TOKENS, None).await;
        unauthorized(&r);
    }
    let empty = srv
        .anonymous()
        .send(Method::GET, TOKENS, None, &[("x-auth-token", "")])
        .await;
    unauthorized(&empty);
    // A refused write leaves nothing behind.
    let r = srv
        .with_x_auth_token("ipl_wrong")
        .post(&blocks("acme"), block_body("10.0.0.0/24"))
        .await;
    unauthorized(&r);
    assert_eq!(srv.get(&blocks("acme")).await.json["ip_blocks"], json!([]));
}

#[tokio::test]
async fn both_headers_must_carry_the_same_secret() {
    // Guards defect 5's fix against ambiguity: a request with a bearer token and an
    // X-Auth-Token that differ must be refused (400), never answered as either principal.
    let srv = TestServer::start().await;
    let (_, acme) = issue(&srv, "acme-ci", "tenant:acme").await;
    let path = blocks("acme");

    let same = srv
        .send(Method::GET, &path, None, &[("x-auth-token", ADMIN_TOKEN)])
        .await;
    assert_eq!(
        same.status, 200,
        "the same secret twice is fine: {}",
        same.text
    );
    let body = block_body("10.0.0.0/24");
    let created = srv
        .with_token(&acme)
        .send(Method::POST, &path, Some(&body), &[("x-auth-token", &acme)])
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    for (bearer, x_auth) in [
        (ADMIN_TOKEN, acme.as_str()),
        (acme.as_str(), ADMIN_TOKEN),
        (ADMIN_TOKEN, "ipl_wrong"),
        ("ipl_wrong", ADMIN_TOKEN),
    ] {
        let body = block_body("10.1.0.0/24");
        let r = srv
            .with_token(bearer)
            .send(
                Method::POST,
                &path,
                Some(&body),
                &[("x-auth-token", x_auth)],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        let detail = r.json["BadRequest"]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("X-Auth-Token") && detail.contains("Authorization"),
            "a detail naming both headers: {}",
            r.text
        );
    }
    let listed = srv.get(&path).await;
    assert_eq!(
        listed.json["ip_blocks"].as_array().map(Vec::len),
        Some(1),
        "no refused request created a block: {}",
        listed.text
    );
}

#[tokio::test]
async fn idempotency_keys_are_scoped_alike_through_either_header() {
    // Guards defect 5's fix: the actor (and so the Idempotency-Key scope) must not depend on
    // which header carried the secret, or a retry through the other header would act twice.
    let srv = TestServer::start().await;
    let (_, acme) = issue(&srv, "acme-ci", "tenant:acme").await;
    let p = pair(&srv, &acme);
    let body = block_body("10.0.0.0/24");
    let key = [("idempotency-key", "once")];
    let path = blocks("acme");
    let first = p.bearer.send(Method::POST, &path, Some(&body), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retry = p.x_auth.send(Method::POST, &path, Some(&body), &key).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.json["ip_block"]["id"], first.json["ip_block"]["id"]);
}
