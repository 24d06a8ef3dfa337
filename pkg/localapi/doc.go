// Package localapi is the daemon's local API: HTTP/1.1 with JSON over a Unix
// socket (/run/ecssnap/ecssnap.sock), its handlers, caller authorization by
// peer credentials, and the typed client the CLI uses.
//
// Routes, all versioned:
//
//	POST /v1/jobs              create (or join) a job          201, 200 when joined
//	GET  /v1/jobs[?limit=N]    list jobs, newest first         200 {"jobs":[...]}
//	GET  /v1/jobs/{id}         one job                         200, 404
//	GET  /v1/jobs/{id}/events  the job's events as NDJSON      200 until the job ends
//	POST /v1/plan              what a job would do             200
//	GET  /v1/disks             the instance's disks            200
//	GET  /v1/health            daemon health                   200
//	GET  /v1/metrics           Prometheus text                 200
//
// Authorization. Listen creates the socket root:ecssnap 0660, so the kernel
// lets only root and members of group ecssnap connect. Each connection's
// caller is then taken from SO_PEERCRED (uid, gid, pid, fixed at connect
// time) plus the supplementary groups and command line in /proc/<pid>
// (ConnContext), and the readOnly and mutating wrappers check it again on
// every request: root and group members pass, anyone else gets 403. A
// request whose caller could not be identified (no peer credentials, as on
// a TCP listener or a platform without SO_PEERCRED) gets 401. Identity never
// comes from the request. Every mutation is logged with uid, pid and
// command line. The costly requests (POST /v1/jobs, POST /v1/plan) of every
// uid but root are rate-limited per uid (RateLimit): over it, 429.
//
// Every non-2xx answer carries one envelope:
//
//	{"error":{"code":"forbidden","message":"permission denied: ..."}}
//
// with the codes listed as Code* constants: 400 for malformed JSON, unknown
// fields and invalid values, 403 also for a Host header other than
// "local-ecssnap" (a request relayed by a proxy or a browser), 404 for
// unknown paths and jobs, 405 for a known path with the wrong method, 413
// for bodies over the cap, 429 ("busy", with Retry-After when it is the
// rate) for a caller over its rate or a full job queue, 500 for backend
// failures.
package localapi
