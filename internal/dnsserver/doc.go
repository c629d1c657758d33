// Package dnsserver is switchboard's authoritative DNS server: it answers
// for the hosted zones of the current routing view, applying Route 53's
// routing policies per query over the record health the view decided.
//
// Each published view is compiled once into an immutable answer table
// (table.go); a query loads it with one atomic load and takes no lock. Only
// the random choice and the walk that depends on the client's address are
// done per query (policy.go).
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
//     get NOTIMP; classes other than IN get REFUSED; zone transfers are
//     REFUSED until they are implemented.
//   - The SOA serial is the view's desired-state version, modulo 2^32.
//     Apex NS records built from name_servers have a TTL of two days, as
//     Route 53's.
package dnsserver
