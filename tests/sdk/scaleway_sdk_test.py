"""The official Scaleway Python SDK (scaleway==2.12.0, IpamV1API) against ipledger.

Run by tests/integration/scaleway.rs (`the_official_sdk_drives_the_api`), which starts a
server, creates two projects (tenants) with their blocks and tenant tokens, and passes them
in the environment. The SDK is used unchanged; `api_url` points at ipledger. The secret key
is an ipledger tenant token, which is not a UUID, so the API object is built with
`bypass_validation=True` (the SDK's client-side format checks; see README).
Prints "SDK OK" when every check passed; any failure raises and exits non-zero.
"""

import os
import sys

from scaleway import Client
from scaleway.ipam.v1 import IpamV1API
from scaleway.ipam.v1.types import (
    CustomResource,
    ListIPsRequestOrderBy,
    Reverse,
    Source,
)
from scaleway_core.api import ScalewayException, ValidationError

ENV = os.environ
PROJECT = ENV["PROJECT_ID"]
OTHER = ENV["OTHER_PROJECT_ID"]
PN = ENV["PRIVATE_NETWORK_ID"]
SUBNET = ENV["SUBNET_ID"]
OTHER_SUBNET = ENV["OTHER_SUBNET_ID"]


def api(secret, project):
    client = Client(
        access_key="SCWXXXXXXXXXXXXXXXXX",
        secret_key=secret,
        api_url=ENV["API_URL"],
        default_project_id=project,
        default_region="fr-par",
    )
    return IpamV1API(client, bypass_validation=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(kind, status, fn, *args, **kwargs):
    """Calls fn and returns the SDK exception it must raise (of `kind`, with `status`)."""
    try:
        fn(*args, **kwargs)
    except kind as e:
        check(e.status_code == status, f"{fn.__name__}: status {e.status_code} != {status}: {e}")
        return e
    raise AssertionError(f"{fn.__name__} did not raise {kind.__name__}")


me = api(ENV["SECRET_KEY"], PROJECT)
them = api(ENV["OTHER_SECRET_KEY"], OTHER)

# Book in a private network and in a subnet; a given address; tags.
a = me.book_ip(source=Source(private_network_id=PN), is_ipv6=False, tags=["web", "prod"])
check(a.project_id == PROJECT, f"project {a.project_id}")
check(a.address.endswith("/24"), f"CIDR form: {a.address}")
check(a.source.private_network_id == PN, f"source {a.source}")
check(a.source.subnet_id == SUBNET, f"subnet {a.source}")
check(a.region == "fr-par" and a.zone is None, f"region {a.region} zone {a.zone}")
check(a.resource is None and a.tags == ["web", "prod"] and a.reverses == [], repr(a))
check(a.created_at is not None and a.updated_at is not None, "timestamps")
b = me.book_ip(source=Source(subnet_id=SUBNET), is_ipv6=False, tags=["db"])
check(b.address != a.address, "two bookings, two addresses")
c = me.book_ip(source=Source(subnet_id=SUBNET), is_ipv6=False, address="10.8.0.77", tags=["db"])
check(c.address == "10.8.0.77/24", c.address)
e = raises(ScalewayException, 409, me.book_ip, source=Source(private_network_id=PN), is_ipv6=False, address="10.8.0.77")
check("conflict" in str(e), str(e))
check(me.get_ip(ip_id=a.id) == a, "get returns the booked IP")

# Tags and reverses (replaced whole).
u = me.update_ip(ip_id=a.id, tags=["web"], reverses=[Reverse(hostname="web-1.example.com", address=a.address.split("/")[0])])
check(u.tags == ["web"] and u.reverses[0].hostname == "web-1.example.com", repr(u))
check(u.address == a.address, "a booked IP never changes")
u = me.update_ip(ip_id=a.id, reverses=[])
check(u.reverses == [] and u.tags == ["web"], repr(u))

# Attach, detach, move a custom resource; release refused while attached.
vm1 = CustomResource(mac_address="02:00:00:00:00:01", name="vm-1")
vm2 = CustomResource(mac_address="02:00:00:00:00:02", name="vm-2")
att = me.attach_ip(ip_id=b.id, resource=vm1)
check(att.resource.type_ == "custom" and att.resource.mac_address == "02:00:00:00:00:01", repr(att.resource))
check(att.resource.name == "vm-1" and att.resource.id, repr(att.resource))
raises(ScalewayException, 409, me.attach_ip, ip_id=b.id, resource=vm2)
raises(ScalewayException, 409, me.release_ip, ip_id=b.id)
raises(ScalewayException, 409, me.release_ip_set, ip_ids=[c.id, b.id])
check(me.get_ip(ip_id=c.id).id == c.id, "a refused set releases nothing")
mv = me.move_ip(ip_id=b.id, from_resource=vm1, to_resource=vm2)
check(mv.resource.mac_address == "02:00:00:00:00:02" and mv.resource.id != att.resource.id, repr(mv.resource))
raises(ScalewayException, 409, me.detach_ip, ip_id=b.id, resource=vm1)
d = me.detach_ip(ip_id=b.id, resource=vm2)
check(d.resource is None, repr(d))
me.attach_ip(ip_id=b.id, resource=vm1)
moved_away = me.move_ip(ip_id=b.id, from_resource=vm1)
check(moved_away.resource is None, "move without to_resource detaches")
me.attach_ip(ip_id=a.id, resource=vm1)

# More IPs for the list: five in all (a attached, b, c, d2, e2).
d2 = me.book_ip(source=Source(subnet_id=SUBNET), is_ipv6=False, tags=["batch"])
e2 = me.book_ip(source=Source(private_network_id=PN), is_ipv6=False, tags=["batch"], resource=vm2)
ids = {x.id for x in (a, b, c, d2, e2)}

# Every filter.
def listed(**kw):
    r = me.list_i_ps(**kw)
    return {ip.id for ip in r.ips}

check(listed() == ids, "all")
check(listed(private_network_id=PN) == {a.id, e2.id}, "private_network_id")
check(listed(subnet_id=SUBNET) == ids, "subnet_id")
check(listed(zonal="fr-par-1") == set(), "zonal")
check(listed(attached=True) == {a.id, e2.id}, "attached")
check(listed(attached=False) == {b.id, c.id, d2.id}, "detached")
check(listed(resource_id=e2.resource.id) == {e2.id}, "resource_id")
check(listed(resource_ids=[e2.resource.id, "nope"]) == {e2.id}, "resource_ids")
check(listed(resource_type="custom") == {a.id, e2.id}, "resource_type")
check(listed(resource_types=["instance_server", "custom"]) == {a.id, e2.id}, "resource_types")
check(listed(resource_name="vm-1") == {a.id}, "resource_name")
check(listed(mac_address="02:00:00:00:00:02") == {e2.id}, "mac_address")
check(listed(tags=["db", "batch"]) == {b.id, c.id, d2.id, e2.id}, "tags")
check(listed(is_ipv6=False) == ids and listed(is_ipv6=True) == set(), "is_ipv6")
check(listed(ip_ids=[a.id, c.id]) == {a.id, c.id}, "ip_ids")
check(listed(project_id=PROJECT) == ids, "project_id")

# Every order.
def order(o):
    return [ip.id for ip in me.list_i_ps(order_by=o).ips]

for o in ListIPsRequestOrderBy:
    check(set(order(o)) == ids, f"order {o}")
asc = [ip.address for ip in me.list_i_ps(order_by=ListIPsRequestOrderBy.IP_ADDRESS_ASC).ips]
key = lambda s: tuple(int(x) for x in s.split("/")[0].split("."))
check(asc == sorted(asc, key=key), f"ip_address_asc {asc}")
desc = [ip.address for ip in me.list_i_ps(order_by=ListIPsRequestOrderBy.IP_ADDRESS_DESC).ips]
check(desc == list(reversed(asc)), "ip_address_desc")
check(order(ListIPsRequestOrderBy.CREATED_AT_ASC) == list(reversed(order(ListIPsRequestOrderBy.CREATED_AT_DESC))), "created_at")
macs = order(ListIPsRequestOrderBy.MAC_ADDRESS_DESC)
check(macs[:2] == [e2.id, a.id], f"mac_address_desc {macs}")

# Paging: total_count, exact pages, list-all with and without page_size.
p1 = me.list_i_ps(page=1, page_size=2, order_by=ListIPsRequestOrderBy.CREATED_AT_ASC)
p3 = me.list_i_ps(page=3, page_size=2, order_by=ListIPsRequestOrderBy.CREATED_AT_ASC)
check(int(p1.total_count) == 5 and len(p1.ips) == 2 and len(p3.ips) == 1, f"pages {p1.total_count}")
check(me.list_i_ps(page=4, page_size=2).ips == [], "past the end")
every = me.list_i_ps_all(page_size=2, order_by=ListIPsRequestOrderBy.CREATED_AT_ASC)
check([ip.id for ip in every] == order(ListIPsRequestOrderBy.CREATED_AT_ASC), "list-all by 2")
check({ip.id for ip in me.list_i_ps_all()} == ids, "list-all, default page size")
v = raises(ValidationError, 400, me.list_i_ps, page_size=101)
check("page_size" in v.errors, repr(v.errors))

# Tenant isolation: the other project sees none of these, cannot touch them, cannot book here.
check({ip.id for ip in them.list_i_ps_all()} == set(), "other project's list")
theirs = them.book_ip(source=Source(subnet_id=OTHER_SUBNET), is_ipv6=False)
check(theirs.id not in listed(), "not in my list")
raises(ScalewayException, 404, them.get_ip, ip_id=a.id)
raises(ScalewayException, 404, them.update_ip, ip_id=c.id, tags=["x"])
raises(ScalewayException, 404, them.release_ip, ip_id=c.id)
raises(ScalewayException, 404, them.release_ip_set, ip_ids=[c.id])
raises(ScalewayException, 404, them.detach_ip, ip_id=a.id, resource=vm1)
raises(ScalewayException, 403, them.list_i_ps, project_id=PROJECT)
raises(ScalewayException, 403, them.book_ip, source=Source(subnet_id=SUBNET), is_ipv6=False, project_id=PROJECT)
raises(ScalewayException, 404, them.book_ip, source=Source(subnet_id=SUBNET), is_ipv6=False)

# The SDK's exceptions on errors.
nf = raises(ScalewayException, 404, me.get_ip, ip_id="00000000-0000-4000-8000-000000000000")
check('"not_found"' in str(nf), str(nf))
v = raises(ValidationError, 400, me.book_ip, source=Source(vpc_id="vpc-1"), is_ipv6=False)
check("source" in v.errors, repr(v.errors))
v = raises(ValidationError, 400, me.book_ip, source=Source(zonal="fr-par-1"), is_ipv6=False)
check("zonal" in str(v), str(v))
v = raises(ValidationError, 400, me.book_ip, source=Source(), is_ipv6=False)
v = raises(ValidationError, 400, me.attach_ip, ip_id=c.id, resource=CustomResource(mac_address="not-a-mac"))
check("resource.mac_address" in v.errors, repr(v.errors))
raises(ScalewayException, 404, me.get_ip, ip_id=a.id, region="nl-ams")
raises(ScalewayException, 401, api("not-a-token", PROJECT).list_i_ps)

# Release: one, then a set; the addresses are free again at once.
me.detach_ip(ip_id=a.id, resource=vm1)
me.detach_ip(ip_id=e2.id, resource=vm2)
me.release_ip(ip_id=a.id)
raises(ScalewayException, 404, me.get_ip, ip_id=a.id)
me.release_ip_set(ip_ids=[b.id, c.id, d2.id, e2.id])
check(me.list_i_ps().total_count == 0, "all released")
again = me.book_ip(source=Source(subnet_id=SUBNET), is_ipv6=False, address="10.8.0.77")
check(again.address == "10.8.0.77/24", "a released address is free again")

print("SDK OK")
sys.exit(0)
