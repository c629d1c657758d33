// Package dnsserver is switchboard's authoritative DNS server: it answers
// for the hosted zones of the current routing view, applying Route 53's
// routing policies per query over the record health the view decided.
//
// Each published view is compiled once into an immutable answer table
// (table.go); a query loads it with one atomic load and takes no lock. Only
// the random choice and the walk that depends on the client's address are
// done per query (policy.go).
//
// Answers that do not depend on the client's address are also prepared in
// wire format (fastpath.go): fixed ones whole (static records, failover,
// NXDOMAIN, NODATA), and random ones (weighted, multivalue, several values
// in random order) as each candidate record's bytes, which a query draws
// from as policy.go would and copies (fastpick.go). A plain query for one of
// them is parsed, answered and counted without miekg/dns and without
// allocating, as is the UDP loop around it (batch_linux.go); with Client
// Subnet too, echoed with scope 0. Aliases, latency, geolocation,
// geoproximity and IP-based records, truncation and everything unusual take
// the general path through miekg/dns, which the differential tests and
// FuzzFastPath hold the fast path to.
//
// # Where Route 53's contract is silent
//
// These are the choices made where the reference (Route 53's documentation)
// says nothing or cannot apply:
//
//   - Client address: the EDNS Client Subnet network when the query has
//     one, else the resolver's source address. A network of a latency table
//     or CIDR collection matches only when it is no longer than the prefix
//     the client revealed (Route 53's rule for IP-based routing, applied to
//     latency too). An ECS prefix of /0 means "nothing known": only
//     default records match.
//   - ECS scope in answers: the longest prefix any decision needed. For
//     latency and IP-based routing that is the matched network's length, or
//     longer when more specific networks lie inside it, and without a match
//     the longest network of the family, capped at the source prefix; for
//     geolocation and geoproximity (the database's network is not known
//     here) the whole source prefix; for answers that do not depend on the
//     client, 0.
//   - Latency without a table entry for the client: every region is as good
//     as another, so a random healthy record answers. Regions an entry does
//     not list rank after those it does, in zone order.
//   - Geolocation when every record on the client's walk (subdivision,
//     country, continent, default) is unhealthy while others in the group
//     are healthy: the most specific record on the walk answers. No record
//     on the walk at all: NODATA.
//   - Geoproximity without client coordinates (no Locator, an address not
//     in the database, or a country-only entry): a random healthy record.
//   - IP-based: a location whose record is unhealthy falls back to the "*"
//     record; when both are unhealthy the location's record answers. No
//     location and no "*" record: NODATA.
//   - Fail-open is per group: a group with no healthy record answers as if
//     all were healthy. Stats.FailingOpen counts such groups.
//   - Load balancer names: a record group of the same name and type in the
//     zone wins over the balancer's name, and a CNAME there suppresses it.
//   - An NS record group at a zone apex replaces the NS records built from
//     the zone's name_servers. Referrals and glue carry every value of the
//     delegation's NS records and of the glue names' A and AAAA records:
//     they are the same for every client and not subject to routing.
//   - ANY (RFC 8482): the first RRset at the name by type code that answers
//     this client; a synthesized HINFO "RFC8482" when the name has records
//     but none answers this client.
//   - CNAME chains are followed through our zones up to 8 links, stopping
//     at a loop, at a name outside our zones, or at a delegation (the
//     resolver follows from there). The rcode and SOA are the last name's
//     (RFC 6604).
//   - Queries before the first view get SERVFAIL; opcodes other than QUERY
//     get NOTIMP; classes other than IN get REFUSED.
//   - The SOA serial is the view's desired-state version, modulo 2^32.
//     Apex NS records built from name_servers have a TTL of two days, as
//     Route 53's.
//
// # Zone transfers
//
// Route 53 has no zone transfers; we serve them (xfr.go) so that ordinary
// secondaries (NSD, Knot, BIND) can copy our zones. A secondary cannot run
// our routing policies or see our health checks, so a transfer carries the
// zone's static content (static.go): for each record group, what a client
// with no location information would get when every record is healthy,
// and where that answer is a random choice, every answer it could be:
//
//   - simple: every value.
//   - weighted: every record with a non-zero weight (weight 0 is standby,
//     answered only when the others are down); all of them when every
//     weight is 0.
//   - failover: the primary (the secondary when there is no primary).
//   - latency and geoproximity: every record (a client we cannot place
//     gets any of them).
//   - multivalue: the first 8 records in zone order.
//   - geolocation and IP-based: the default ("*") record; without one the
//     name has no data of that type (as such a client gets NODATA).
//   - aliases: the target's static content under the alias's name, with
//     the target's TTL; to a load balancer, every node's addresses.
//   - load balancer names: every node's addresses, zonal shifts ignored.
//   - delegations (NS below the apex), their glue, and NS at the apex:
//     every value, as referrals carry.
//   - a CNAME group that would give several: the heaviest (weighted), else
//     the first.
//
// Values that make one RRset are deduplicated and take the lowest TTL among
// them (RFC 2181 §5.2). Why this rule: it depends on the desired state
// alone, never on health or time, so a serial names one content and a
// health change needs no new serial (the serial is the desired-state
// version, and a secondary that polls sees the same zone we would send it);
// and it errs towards answers that work: a secondary answering every
// weighted value or every latency region still reaches a serving endpoint,
// where picking one at random would pin its clients to one place. What a
// secondary cannot do is steer by health: it answers the primary of a
// failover even while it is down, until a version changes it.
//
// AXFR and IXFR are served over TCP only, in messages of about 16 KiB. Over
// UDP, AXFR is REFUSED and IXFR gets the current SOA alone (RFC 1995 §2:
// "use TCP"). A request is allowed when its source address is in the allow
// networks of a configured secondary whose zones include the zone (all
// zones by default) and that has no TSIG key or the one the request is
// signed with. A request from an address no secondary allows gets REFUSED
// whatever it asks, so strangers learn nothing of our zones; an allowed
// one gets NOTAUTH for a zone we do not host; a TSIG with an unknown key or
// a bad MAC gets NOTAUTH with BADKEY or BADSIG (RFC 8945 §5.2). Answers to
// signed requests are signed, every message of a transfer (RFC 8945
// §5.3.1).
//
// IXFR (RFC 1995) comes from memory: on each new version the server diffs
// every zone against the previous version and keeps the changes of the
// last TransferHistory versions (default 64), and never more changes than
// the zone has records, since an IXFR larger than the zone is worse than
// AXFR (BIND's max-ixfr-ratio of 100%). A client at a serial we no longer
// have, or never had (such as after our restart), gets the whole zone in
// AXFR form; a client at our serial, or one ahead of it, gets our SOA
// alone. The history is in memory only: after a restart every secondary
// behind us gets one AXFR (the store keeps the versions, so rebuilding the
// history from it at start is possible; it is not done). History starts again when the serial goes backwards (a store
// restored from backup): secondaries ahead of us keep their copy until our
// serial passes theirs, as RFC 1982 serials work.
//
// NOTIFY (RFC 1996) goes to every secondary with an address, one per zone,
// on every new serial (the first view included), over UDP from an
// ephemeral port, signed when the secondary has a key. It is sent again
// after NotifyRetry, doubling, NotifyAttempts times at most, until the
// secondary answers; an error answer ends it. A newer serial replaces a
// NOTIFY still being retried. A secondary that missed every NOTIFY finds
// the change at its SOA refresh interval.
//
// # Response rate limiting
//
// Over UDP, when configured, each answer is charged to a bucket per client
// network (the source address, never the ECS address: a reflection attack
// spoofs the victim's address) and response (rrl.go): answers and NODATA
// by name and type, NXDOMAIN by zone (so random names count together),
// referrals by delegation, and all errors (REFUSED, FORMERR…) together.
// A bucket allows ResponsesPerSecond a second with a burst of as many;
// beyond that answers are dropped and every Slip-th goes out as a bare
// header and question with TC=1, which sends a real client to TCP, where
// nothing is limited. Limited answers are charged too, up to Window's
// worth of debt, so a flood stays limited until it has slowed down for
// about Window (BIND's rule). The table is bounded (Entries); when a slot
// is full the entry nearest to full credit gives way. IXFR over UDP is
// limited like any answer; transfers over TCP are not.
package dnsserver
