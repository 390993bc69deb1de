//! Scaleway IPs (issue 9): booking takes addresses from the same free maps as Melange, the
//! seed's guarantees (an attached IP has one resource and cannot be released; a set with an
//! attached IP is refused whole), release frees the address at once, and Melange cannot
//! free an address a Scaleway IP holds.

use ipledger_domain::records::Reply;
use ipledger_domain::scaleway::ScalewayIpRecord;
use ipledger_domain::{Event, Rejection};
use uuid::Uuid;

use super::given::*;
use crate::command::{Command, CreateBlock};
use crate::command_scaleway::*;

const MAC: &str = "02:00:00:00:00:01";

fn in_subnet(project: &str, block: Uuid) -> BookScalewayIp {
    BookScalewayIp {
        project_id: project.into(),
        source: SourceRequest {
            subnet_id: Some(block.to_string()),
            ..SourceRequest::default()
        },
        ..BookScalewayIp::default()
    }
}

fn book(b: BookScalewayIp) -> Command {
    Command::Scaleway(ScalewayCommand::Book(b))
}

fn resource(mac: &str) -> CustomResource {
    CustomResource {
        mac_address: mac.into(),
        name: Some("web-1".into()),
    }
}

fn booked(reply: &Reply) -> ScalewayIpRecord {
    match reply {
        Reply::ScalewayIp(ip) => ip.clone(),
        other => panic!("a Scaleway IP, got {other:?}"),
    }
}

fn release(ids: &[Uuid]) -> Command {
    Command::Scaleway(ScalewayCommand::Release {
        scope: None,
        ip_ids: ids.to_vec(),
    })
}

fn networked(cidr: &str) -> Command {
    create(CreateBlock {
        network_id: some("net-1"),
        ..private(T1, cidr)
    })
}

#[test]
fn booking_allocates_in_the_block_stream_and_melange_skips_the_address() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let t = s.when(book(in_subnet(T1, id(1))));
    let Event::AddressAllocated(a) = &t.events()[0] else {
        panic!("an allocation first: {:?}", t.events());
    };
    assert_eq!(a.used_by_tenant, T1);
    let Event::ScalewayIpBooked(b) = &t.events()[1] else {
        panic!("then the booking: {:?}", t.events());
    };
    assert_eq!(b.ip_id, a.address_id, "the IP's id is its address id");
    let ip = booked(&s.run(&book(in_subnet(T1, id(1)))).expect("booked").reply);
    assert_eq!(ip.address, a.address);
    s.when(allocate(T1, id(1))).then_allocated("10.0.0.3");
    s.when(allocate_at(T1, id(1), "10.0.0.2"))
        .then_rejected(Rejection::Conflict("Address is already allocated".into()));
    let mut given_address = in_subnet(T1, id(1));
    given_address.address = Some(self::ip("10.0.0.2"));
    s.when(book(given_address))
        .then_rejected(Rejection::Conflict("Address is already allocated".into()));
}

#[test]
fn a_private_network_books_from_its_blocks_in_order() {
    // A /30 has one automatic address (.2: .0 is the network, .1 the gateway, .3 the
    // broadcast), so the third booking moves on to the second block.
    let mut s = given(&[networked("10.0.0.0/30"), networked("10.0.1.0/29")]);
    let pn = BookScalewayIp {
        project_id: T1.into(),
        source: SourceRequest {
            private_network_id: some("net-1"),
            ..SourceRequest::default()
        },
        ..BookScalewayIp::default()
    };
    let first = booked(&s.run(&book(pn.clone())).expect("first").reply);
    let second = booked(&s.run(&book(pn.clone())).expect("second").reply);
    assert_eq!(
        [first.address, second.address],
        [ip("10.0.0.2"), ip("10.0.1.2")]
    );
    assert_eq!(second.block_id, id(2), "a full block moves on to the next");
    let other = BookScalewayIp {
        project_id: T2.into(),
        ..pn
    };
    let refused = s.run(&book(other));
    assert!(
        matches!(refused, Err(Rejection::NotFound(_))),
        "{refused:?}"
    );
}

#[test]
fn unsupported_sources_are_400_naming_the_supported_ones() {
    let s = given(&[create(private(T1, "10.0.0.0/29"))]);
    for source in [
        SourceRequest {
            zonal: some("fr-par-1"),
            ..SourceRequest::default()
        },
        SourceRequest {
            vpc_id: some("vpc"),
            ..SourceRequest::default()
        },
        SourceRequest {
            regional: Some(true),
            ..SourceRequest::default()
        },
        SourceRequest::default(),
    ] {
        let refused = s.clone().run(&book(BookScalewayIp {
            project_id: T1.into(),
            source,
            ..BookScalewayIp::default()
        }));
        let Err(Rejection::Invalid(fields)) = refused else {
            panic!("a validation error, got {refused:?}");
        };
        let text = fields["source"].join(" ");
        assert!(
            text.contains("private_network_id") || text.contains("zonal"),
            "{text}"
        );
    }
}

#[test]
fn an_attached_ip_is_never_released_alone_or_in_a_set() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let free = booked(&s.run(&book(in_subnet(T1, id(1)))).expect("free").reply);
    let mut with = in_subnet(T1, id(1));
    with.resource = Some(resource(MAC));
    let held = booked(&s.run(&book(with)).expect("attached").reply);
    assert!(held.resource.is_some());
    assert!(matches!(
        s.when(release(&[held.id])).rejection(),
        Some(Rejection::Conflict(_))
    ));
    assert!(matches!(
        s.when(release(&[free.id, held.id])).rejection(),
        Some(Rejection::Conflict(_))
    ));
    let attach = Command::Scaleway(ScalewayCommand::Attach {
        scope: None,
        ip_id: held.id,
        resource: resource("02:00:00:00:00:02"),
    });
    assert!(
        matches!(s.when(attach).rejection(), Some(Rejection::Conflict(_))),
        "an IP has one resource"
    );
    let wrong = Command::Scaleway(ScalewayCommand::Detach {
        scope: None,
        ip_id: held.id,
        resource: resource("02:00:00:00:00:02"),
    });
    assert!(matches!(
        s.when(wrong).rejection(),
        Some(Rejection::Conflict(_))
    ));
    s.run(&Command::Scaleway(ScalewayCommand::Detach {
        scope: None,
        ip_id: held.id,
        resource: resource(MAC),
    }))
    .expect("detached");
    let t = s.when(release(&[free.id, held.id]));
    let names: Vec<&str> = t.events().iter().map(Event::type_name).collect();
    assert_eq!(
        names,
        [
            "ScalewayIpReleased",
            "AddressDeallocated",
            "AddressPurged",
            "ScalewayIpReleased",
            "AddressDeallocated",
            "AddressPurged"
        ]
    );
    s.run(&release(&[free.id, held.id])).expect("released");
    assert!(s.state.scaleway_ip(free.id).is_none());
    assert!(s.state.holder_of(free.id).is_none());
    s.when(allocate(T1, id(1)))
        .then_allocated(&free.address.to_string());
}

#[test]
fn move_replaces_the_resource_in_one_decision() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let mut with = in_subnet(T1, id(1));
    with.resource = Some(resource(MAC));
    let ip = booked(&s.run(&book(with)).expect("booked").reply);
    let moved = Command::Scaleway(ScalewayCommand::Move {
        scope: None,
        ip_id: ip.id,
        from: resource(MAC),
        to: Some(resource("02:00:00:00:00:02")),
    });
    let after = booked(&s.run(&moved).expect("moved").reply);
    let r = after.resource.expect("attached to the new one");
    assert_eq!(r.mac_address, "02:00:00:00:00:02");
    assert_ne!(Some(r.id), ip.resource.map(|r| r.id));
    assert_eq!(
        after.address, ip.address,
        "a booked IP never changes its address"
    );
    let stored = s.state.scaleway_ip(ip.id).expect("kept");
    assert_eq!(stored.resource.as_ref().map(|r| r.id), Some(r.id));
}

#[test]
fn melange_cannot_free_a_scaleway_address_and_projects_are_apart() {
    let mut s = given(&[create(private(T1, "10.0.0.0/29"))]);
    let ip = booked(&s.run(&book(in_subnet(T1, id(1)))).expect("booked").reply);
    let t = s.when(deallocate(T1, id(1), &ip.address.to_string()));
    let refused = t.rejection();
    let Some(Rejection::Conflict(message)) = refused else {
        panic!("409, got {refused:?}");
    };
    assert!(message.contains(&ip.id.to_string()), "{message}");
    let foreign = Command::Scaleway(ScalewayCommand::Release {
        scope: Some(T2.into()),
        ip_ids: vec![ip.id],
    });
    assert!(matches!(
        s.when(foreign).rejection(),
        Some(Rejection::NotFound(_))
    ));
    assert!(s.when(delete_block(T1, id(1))).rejection().is_some());
}
