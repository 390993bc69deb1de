//! The review console end to end in headless Chromium (issue 4): served by ipledger, signed
//! in with the admin token, it shows a submitted request, approves it (the badge turns
//! APPROVED, the address is allocated), refreshes without a reload, and rejects another with
//! a reason. Driven over WebDriver (`chromedriver`, Debian's `chromium-driver`) with
//! fantoccini; a screenshot is saved to `tests/artifacts/console.png`. Issue 14: the blocks
//! page and a block's heat map (screenshots `console-blocks.png`, `console-heatmap.png`), the
//! cells' states and computed colours for a known pattern, and the holder timeline.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::smtp_support::free_port;
use crate::support::{Client, TestServer, ADMIN_TOKEN};

pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// chromedriver on a free loopback port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = free_port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (scripts/install-test-deps installs chromium-driver)");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://{addr}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Browser {
    browser_with(driver, profile, &[]).await
}

/// A headless Chromium session with `extra` command-line flags.
pub(crate) async fn browser_with(
    driver: &Driver,
    profile: &std::path::Path,
    extra: &[&str],
) -> Browser {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().map(|a| a.to_string()));
    let caps = json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}});
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

async fn submit(c: &Client, form: &str) -> String {
    let r = c
        .raw(
            Method::POST,
            "/v1/agent/ipam/request",
            Some("application/x-www-form-urlencoded"),
            form,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ip = form.split('&').next().unwrap().trim_start_matches("ip=");
    let listed = c.get(&format!("/v1/ipam/requests?ip={ip}")).await;
    listed.json["requests"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The text of the status badge of request `id`, once it equals `want` (or the deadline).
async fn badge(b: &Browser, id: &str, want: &str) -> String {
    let css = format!("[data-testid=\"status-{id}\"]");
    let deadline = Instant::now() + WAIT;
    loop {
        let text = match b.find(Locator::Css(&css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text == want || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(b: &Browser, css: &str) {
    b.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .expect("click");
}

async fn request(c: &Client, id: &str) -> Value {
    c.get(&format!("/v1/ipam/requests/{id}")).await.json["request"].clone()
}

#[tokio::test]
async fn console_approves_and_rejects_requests_in_chromium() {
    let s = TestServer::start().await;
    let r = s
        .post(
            "/v0.1/ipam/tenants/acme/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": "192.168.1.0/24", "network_id": "net-1"}}),
        )
        .await;
    let block = r.json["ip_block"]["id"].as_str().unwrap().to_string();
    let first = submit(
        &s,
        "ip=192.168.1.50&email=user@example.com&description=Required+for+new+server+deployment",
    )
    .await;
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let b = browser(&driver, profile.path()).await;

    sign_in(&b, &s.base).await;
    assert_eq!(badge(&b, &first, "PENDING").await, "PENDING");
    let heading = b.find(Locator::Css("nav.crumbs")).await.unwrap();
    assert!(heading.text().await.unwrap().contains("IP Requests"));

    click(&b, &format!("[data-testid=\"approve-{first}\"]")).await;
    assert_eq!(badge(&b, &first, "APPROVED").await, "APPROVED");
    let actions = b
        .find_all(Locator::Css(&format!("[data-testid=\"approve-{first}\"]")))
        .await
        .unwrap();
    assert!(actions.is_empty(), "no actions on a decided request");
    let address = s
        .get(&format!(
            "/v0.1/ipam/tenants/acme/ip_blocks/{block}/ip_addresses/192.168.1.50"
        ))
        .await;
    assert_eq!(
        address.status, 200,
        "approved means allocated: {}",
        address.text
    );
    assert_eq!(request(&s, &first).await["status"], "APPROVED");

    // A request made after the page loaded appears on Refresh, without a reload.
    let second = submit(&s, "ip=192.168.1.51&description=lab").await;
    click(&b, "#refresh").await;
    assert_eq!(badge(&b, &second, "PENDING").await, "PENDING");
    click(&b, &format!("[data-testid=\"reject-{second}\"]")).await;
    let deadline = Instant::now() + WAIT;
    while b.get_alert_text().await.is_err() {
        assert!(Instant::now() < deadline, "no reason prompt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.send_alert_text("not in this rack").await.expect("reason");
    b.accept_alert().await.expect("accept");
    assert_eq!(badge(&b, &second, "REJECTED").await, "REJECTED");
    let rejected = request(&s, &second).await;
    assert_eq!(rejected["status"], "REJECTED");
    assert_eq!(rejected["reason"], "not in this rack");

    screenshot(&b, "console.png").await;
    b.close().await.expect("close the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_file_forbids_framing_and_sniffing() {
    // Issue 8 defect 10: every HTML answer carries a CSP, a framing ban old browsers also
    // understand (X-Frame-Options) and nosniff.
    let srv = TestServer::start().await;
    let anonymous = srv.client.anonymous();
    for path in [
        "/console/",
        "/console/index.html",
        "/console/console.js",
        "/console/console.css",
    ] {
        let r = anonymous.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        let header = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
}

/// Saves a screenshot of the current page as `tests/artifacts/{name}`.
async fn screenshot(b: &Browser, name: &str) {
    let png = b.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), &png).unwrap();
}

/// The heat map cell of `address` (an address, or `start/prefix` of an aggregate): its
/// `data-state` and its computed background colour.
async fn heat_cell(b: &Browser, address: &str) -> (String, String) {
    let css = format!(".heatmap [data-address=\"{address}\"]");
    b.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&css))
        .await
        .unwrap_or_else(|e| panic!("no cell {address}: {e}"));
    let got = b
        .execute(
            "const e = document.querySelector(arguments[0]);
             return [e.dataset.state, getComputedStyle(e).backgroundColor];",
            vec![json!(css)],
        )
        .await
        .expect("read the cell");
    (
        got[0].as_str().unwrap_or_default().to_string(),
        got[1].as_str().unwrap_or_default().to_string(),
    )
}

async fn sign_in(b: &Browser, base: &str) {
    b.goto(&format!("{base}/console/")).await.expect("open");
    b.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("token"))
        .await
        .expect("sign-in form")
        .send_keys(ADMIN_TOKEN)
        .await
        .expect("type token");
    click(b, "#sign-in-button").await;
}

#[tokio::test]
async fn console_shows_blocks_a_heat_map_by_state_and_an_address_timeline() {
    let s = TestServer::start().await;
    let blocks = "/v0.1/ipam/tenants/acme/ip_blocks";
    let create = |cidr: &'static str| {
        let s = &s;
        async move {
            let r = s
                .post(
                    blocks,
                    json!({"ip_block": {"type": "private", "cidr": cidr, "network_id": "net-1"}}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.json["ip_block"]["id"].as_str().unwrap().to_string()
        }
    };
    // The known pattern: a /28 (gateway .1 by default) with .2 allocated, .3 deallocated,
    // .4 held by a pending request, the rest free.
    let small = create("10.9.0.0/28").await;
    let allocate = |block: String, address: &'static str| {
        let s = &s;
        async move {
            let r = s
                .post(
                    &format!("{blocks}/{block}/ip_addresses"),
                    json!({"ip_address": {"address": address}}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    };
    allocate(small.clone(), "10.9.0.2").await;
    allocate(small.clone(), "10.9.0.3").await;
    let r = s
        .delete(&format!("{blocks}/{small}/ip_addresses/10.9.0.3"))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    submit(&s, "ip=10.9.0.4&description=held").await;
    // A /20 is drawn one cell per /24.
    let large = create("10.10.0.0/20").await;
    allocate(large.clone(), "10.10.3.5").await;

    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let b = browser(&driver, profile.path()).await;
    sign_in(&b, &s.base).await;

    // The blocks page: both blocks, with utilization (.2 and the hold of .4 are used; the
    // deallocated .3 is free again).
    click(&b, "#nav-blocks").await;
    let tenant = b
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("tenant"))
        .await
        .expect("tenant field");
    tenant.send_keys("acme").await.expect("type tenant");
    click(&b, "#load-blocks").await;
    let used = b
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!(
            "[data-testid=\"utilization-{small}\"]"
        )))
        .await
        .expect("utilization of the /28");
    assert_eq!(used.text().await.unwrap(), "2 / 16 (12.5%)");
    let used = b
        .find(Locator::Css(&format!(
            "[data-testid=\"utilization-{large}\"]"
        )))
        .await
        .expect("utilization of the /20");
    assert_eq!(used.text().await.unwrap(), "1 / 4096 (0.02%)");
    screenshot(&b, "console-blocks.png").await;

    // The /28's heat map: one cell per address, state and colour per the pattern.
    click(&b, &format!("[data-testid=\"block-{small}\"]")).await;
    let free = ("free", "rgb(233, 237, 243)");
    let reserved = ("reserved", "rgb(91, 98, 117)");
    let mut want = vec![
        ("10.9.0.0", reserved),
        ("10.9.0.1", reserved),
        ("10.9.0.2", ("allocated", "rgb(47, 91, 234)")),
        ("10.9.0.3", ("deallocated", "rgb(185, 143, 217)")),
        ("10.9.0.4", ("held", "rgb(240, 160, 32)")),
    ];
    for host in 5..15 {
        want.push((Box::leak(format!("10.9.0.{host}").into_boxed_str()), free));
    }
    want.push(("10.9.0.15", reserved));
    for (address, (state, colour)) in want {
        let (got_state, got_colour) = heat_cell(&b, address).await;
        assert_eq!(
            (got_state.as_str(), got_colour.as_str()),
            (state, colour),
            "{address}"
        );
    }
    let cells = b.find_all(Locator::Css(".heatmap .cell")).await.unwrap();
    assert_eq!(cells.len(), 16, "one cell per address");
    screenshot(&b, "console-heatmap.png").await;

    // A cell opens the address's holder timeline.
    click(&b, ".heatmap [data-address=\"10.9.0.2\"]").await;
    let holding = b
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#holding-rows tr.holding"))
        .await
        .expect("a holding");
    let text = holding.text().await.unwrap();
    assert!(
        text.contains("allocation") && text.contains("10.9.0.0/28"),
        "{text}"
    );

    // The /20: sixteen /24 cells; the one with the allocation is coloured allocated, the
    // first and last hold the reserved network, gateway and broadcast.
    b.goto(&format!("{}/console/#block/acme/{large}", s.base))
        .await
        .expect("open the /20");
    assert_eq!(heat_cell(&b, "10.10.3.0/24").await.0, "allocated");
    assert_eq!(heat_cell(&b, "10.10.0.0/24").await.0, "reserved");
    assert_eq!(heat_cell(&b, "10.10.15.0/24").await.0, "reserved");
    assert_eq!(heat_cell(&b, "10.10.7.0/24").await.0, "free");
    let cells = b.find_all(Locator::Css(".heatmap .cell")).await.unwrap();
    assert_eq!(cells.len(), 16, "one cell per /24");
    b.close().await.expect("close the session");
}
