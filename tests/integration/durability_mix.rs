//! kill -9 with every kind of event of the Melange surface in the burst: interfaces that take
//! a MAC from a range and an address from a network, interface deletions (MAC released,
//! addresses soft-deallocated), static routes and NAT pairs. After each SIGKILL the restarted
//! server must show every acknowledged change, none of the acknowledged deletions undone, no
//! MAC or address held twice, and `ipledger verify` must pass.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::durability::{list_all, spawn_with_env, try_send};
use crate::support::{run_cli, Client, Process};

const TASKS: usize = 16;
const PER_TASK: usize = 300;
const KILL_AFTER_ACKS: usize = 200;
const ROUNDS: usize = 2;
const T: &str = "/v0.1/ipam/tenants/t1";

/// What the clients were told succeeded.
#[derive(Default)]
struct Acked {
    /// Live interfaces: vif → (MAC, address).
    interfaces: BTreeMap<String, (String, String)>,
    /// Interfaces whose deletion was acknowledged.
    deleted: HashSet<String>,
    /// Interfaces whose deletion was sent but not acknowledged when the process died: the
    /// delete may be durable without its answer, so such an interface may be gone.
    deleting: HashSet<String>,
    /// Route ids.
    routes: HashSet<String>,
    /// (local address, global address) NAT pairs.
    nat: HashSet<(String, String)>,
}

struct World {
    private: String,
    public: String,
}

async fn setup(c: &Client) -> World {
    let r = c
        .post(
            "/v0.1/ipam/mac_address_ranges",
            json!({"mac_address_range": {"cidr": "BC:76:4E:00:00:00/24"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut ids = Vec::new();
    for (cidr, kind, net) in [
        ("10.0.0.0/16", "private", "net-k"),
        ("77.0.0.0/16", "public", "net-g"),
    ] {
        let r = c
            .post(
                &format!("{T}/ip_blocks"),
                json!({"ip_block": {"type": kind, "cidr": cidr, "network_id": net}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json["ip_block"]["id"].as_str().unwrap().to_string());
    }
    World {
        public: ids.pop().unwrap(),
        private: ids.pop().unwrap(),
    }
}

/// One client's loop: create an interface on the network; every 3rd, a route; every 4th, a
/// global address NATed to the interface's; every 5th, delete the interface again. Stops at
/// the first transport error (the server is gone); any other non-success is recorded.
async fn worker(
    c: Client,
    w: Arc<World>,
    round: usize,
    task: usize,
    acked: Arc<Mutex<Acked>>,
    count: Arc<AtomicUsize>,
    odd: Arc<Mutex<Vec<String>>>,
) {
    let ok = |s: StatusCode, body: &Value, what: &str| {
        if !s.is_success() {
            odd.lock().unwrap().push(format!("{what}: {s} {body}"));
        }
        s.is_success()
    };
    for i in 0..PER_TASK {
        let vif = format!("vif-{round}-{task}-{i}");
        let body = json!({"interface": {"id": vif, "tenant_id": "t1", "device_id": format!("vm-{task}"),
                                        "network": {"id": "net-k", "tenant_id": "t1"}}});
        let Ok((s, b)) = try_send(&c, Method::POST, "/v0.1/ipam/interfaces", Some(&body)).await
        else {
            return;
        };
        if !ok(s, &b, "interface") {
            continue;
        }
        let mac = b["interface"]["mac_address"]
            .as_str()
            .expect("mac")
            .to_string();
        let address = b["interface"]["ip_addresses"][0]["address"]
            .as_str()
            .expect("address")
            .to_string();
        acked
            .lock()
            .unwrap()
            .interfaces
            .insert(vif.clone(), (mac, address.clone()));
        count.fetch_add(1, Ordering::SeqCst);

        if i % 3 == 0 {
            let body = json!({"ip_route": {"destination": format!("192.168.{task}.{}", i % 250), "gateway": "10.0.0.1"}});
            let path = format!("{T}/ip_blocks/{}/ip_routes", w.private);
            let Ok((s, b)) = try_send(&c, Method::POST, &path, Some(&body)).await else {
                return;
            };
            if ok(s, &b, "route") {
                acked
                    .lock()
                    .unwrap()
                    .routes
                    .insert(b["ip_route"]["id"].as_str().unwrap().to_string());
            }
        }
        if i % 4 == 0 {
            let path = format!("{T}/ip_blocks/{}/ip_addresses", w.public);
            let Ok((s, b)) = try_send(&c, Method::POST, &path, None).await else {
                return;
            };
            if !ok(s, &b, "global") {
                continue;
            }
            let global = b["ip_address"]["address"].as_str().unwrap().to_string();
            let path = format!(
                "{T}/ip_blocks/{}/ip_addresses/{address}/inside_globals",
                w.private
            );
            let body = json!({"ip_addresses": [{"ip_block_id": w.public, "ip_address": global}]});
            let Ok((s, b)) = try_send(&c, Method::POST, &path, Some(&body)).await else {
                return;
            };
            if ok(s, &b, "nat") {
                acked.lock().unwrap().nat.insert((address.clone(), global));
            }
        }
        if i % 5 == 4 {
            let path = format!("/v0.1/ipam/interfaces/{vif}");
            acked.lock().unwrap().deleting.insert(vif.clone());
            let Ok((s, b)) = try_send(&c, Method::DELETE, &path, None).await else {
                return;
            };
            if ok(s, &b, "delete") {
                let mut a = acked.lock().unwrap();
                a.interfaces.remove(&vif);
                a.deleting.remove(&vif);
                a.deleted.insert(vif);
            }
        }
    }
}

async fn burst_and_kill(proc: Process, w: Arc<World>, round: usize, acked: Arc<Mutex<Acked>>) {
    let pid = proc.child.id() as libc::pid_t;
    let count = Arc::new(AtomicUsize::new(0));
    let odd = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(worker(
                proc.client.clone(),
                w.clone(),
                round,
                task,
                acked.clone(),
                count.clone(),
                odd.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < KILL_AFTER_ACKS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seen = count.load(Ordering::SeqCst);
    // SAFETY: kill(2) on our own child's pid; the child is not reaped before this.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    for w in workers {
        w.await.expect("worker");
    }
    proc.kill9();
    assert!(
        seen >= KILL_AFTER_ACKS,
        "only {seen} interfaces acknowledged before the deadline"
    );
    assert!(
        seen < TASKS * PER_TASK,
        "the burst finished before the kill"
    );
    let odd = odd.lock().unwrap().clone();
    assert!(odd.is_empty(), "refusals before the kill: {odd:?}");
}

/// Resolves the deletes that were in flight at the kill: the log says whether each landed.
async fn settle_deletes(c: &Client, acked: &mut Acked) {
    for vif in std::mem::take(&mut acked.deleting) {
        let r = c.get(&format!("{T}/interfaces/{vif}")).await;
        if r.status == StatusCode::NOT_FOUND {
            acked.interfaces.remove(&vif);
            acked.deleted.insert(vif);
        }
    }
}

async fn check(c: &Client, w: &World, acked: &Acked, round: usize) {
    let mut macs = HashSet::new();
    let mut addresses = HashSet::new();
    for (vif, (mac, address)) in &acked.interfaces {
        let r = c.get(&format!("{T}/interfaces/{vif}")).await;
        // An unacknowledged delete that reached the log before the kill took it: not a loss.
        // (This race, not a lost event, once failed this test under a loaded machine.)
        if r.status == StatusCode::NOT_FOUND && acked.deleting.contains(vif) {
            continue;
        }
        assert_eq!(
            r.status,
            StatusCode::OK,
            "round {round}: acknowledged {vif} lost: {}",
            r.text
        );
        assert_eq!(
            r.json["interface"]["mac_address"],
            mac.as_str(),
            "round {round}: {vif}"
        );
        assert_eq!(
            r.json["interface"]["ip_addresses"][0]["address"],
            address.as_str(),
            "round {round}: {vif}"
        );
        assert!(
            macs.insert(mac.clone()),
            "round {round}: MAC {mac} held twice"
        );
        assert!(
            addresses.insert(address.clone()),
            "round {round}: {address} held twice"
        );
    }
    for vif in &acked.deleted {
        let r = c.get(&format!("{T}/interfaces/{vif}")).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "round {round}: deleted {vif} came back: {}",
            r.text
        );
    }
    let routes: HashSet<String> = list_all(
        c,
        &format!("{T}/ip_blocks/{}/ip_routes", w.private),
        "ip_routes",
    )
    .await
    .iter()
    .map(|r| r["id"].as_str().unwrap().to_string())
    .collect();
    let lost: Vec<_> = acked.routes.difference(&routes).collect();
    assert!(
        lost.is_empty(),
        "round {round}: acknowledged routes lost: {lost:?}"
    );
    for (local, global) in &acked.nat {
        let path = format!(
            "{T}/ip_blocks/{}/ip_addresses/{local}/inside_globals",
            w.private
        );
        let globals: Vec<String> = list_all(c, &path, "ip_addresses")
            .await
            .iter()
            .map(|a| a["address"].as_str().unwrap().to_string())
            .collect();
        assert!(
            globals.contains(global),
            "round {round}: NAT {local} → {global} lost: {globals:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_mid_burst_of_interfaces_macs_routes_and_nat_loses_nothing_acknowledged() {
    // Guards against acknowledging an interface, a MAC, a route or a NAT pair before its
    // events are durable, and against a recovery that hands a surviving MAC or address out
    // again or revives an acknowledged deletion.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let env = [("IPLEDGER_SEGMENT_BYTES_MAX", "65536")];
    let proc = spawn_with_env(dir, &env);
    let world = Arc::new(setup(&proc.client).await);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut proc = Some(proc);
    for round in 1..=ROUNDS {
        burst_and_kill(proc.take().unwrap(), world.clone(), round, acked.clone()).await;
        let next = spawn_with_env(dir, &env);
        check(&next.client, &world, &acked.lock().unwrap(), round).await;
        settle_deletes(&next.client, &mut acked.lock().unwrap()).await;
        // The recovered MAC and address maps must not hand out what survived.
        let body = json!({"interface": {"id": format!("vif-after-{round}"), "tenant_id": "t1",
                                        "network": {"id": "net-k", "tenant_id": "t1"}}});
        let r = next.client.post("/v0.1/ipam/interfaces", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let mac = r.json["interface"]["mac_address"]
            .as_str()
            .unwrap()
            .to_string();
        let address = r.json["interface"]["ip_addresses"][0]["address"]
            .as_str()
            .unwrap()
            .to_string();
        {
            let a = acked.lock().unwrap();
            assert!(
                a.interfaces.values().all(|(m, _)| *m != mac),
                "round {round}: {mac} handed out twice"
            );
            assert!(
                a.interfaces.values().all(|(_, ad)| *ad != address),
                "round {round}: {address} handed out twice"
            );
        }
        acked
            .lock()
            .unwrap()
            .interfaces
            .insert(format!("vif-after-{round}"), (mac, address));
        proc = Some(next);
    }
    proc.take().unwrap().terminate();
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir.to_str().unwrap()]);
    assert!(ok, "verify after the kills:\n{out}\n{err}");
}
