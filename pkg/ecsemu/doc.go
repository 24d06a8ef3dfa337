// Package ecsemu emulates the two Alibaba Cloud services ecssnap talks to:
// the ECS instance metadata service (IMDS, normally http://100.100.100.200)
// and the ECS API, version 2014-05-26 (RPC style, signatures V1 and V3).
//
// The emulator is faithful on the wire, because every test of the agent and
// the demo use it as "the cloud": requests are authenticated exactly as the
// real gateway does (HMAC-SHA1 and ACS3-HMAC-SHA256 signatures, timestamp
// window, nonce replay, access keys and STS tokens, each action's documented
// parameters), errors carry the real codes, HTTP statuses and
// an all-string JSON body (the Go SDK panics on anything else), responses use
// the real field names and JSON types, and the state rules that shape the
// agent's design are enforced: instance and disk status, concurrent snapshot
// tasks per disk, the manual snapshot quota, snapshot-consistent group
// eligibility, ClientToken idempotency, progress over time, retention.
//
// A [Scenario] (YAML or JSON) describes the account, instance and disks.
// Time comes from an injected [Clock]; a [VirtualClock] lets tests move
// snapshots to completion or past their retention without waiting. [Faults]
// inject latency, throttling, 5xx errors, dropped responses and metadata
// outages, with a seedable random source so failures are reproducible.
//
// [Emulator] exposes plain http.Handlers (API, metadata, admin); [Listen]
// serves them on loopback listeners, optionally with TLS from a generated
// test CA. Package ecsemutest starts one per test.
package ecsemu
