package cloud

import (
	"errors"
	"fmt"
	"strings"
)

// Kind sorts API failures by what the caller should do about them.
type Kind int

const (
	KindUnknown            Kind = iota
	KindThrottled               // slow down and retry
	KindServer                  // the service failed (5xx): retry
	KindTransport               // no answer: retry with the same ClientToken
	KindInProgress              // IdempotentProcessing: the first attempt is still running
	KindDiskState               // the disk cannot be snapshotted in its current state
	KindInstanceState           // the instance cannot be snapshotted in its current state
	KindQuota                   // a count or capacity limit was reached
	KindNotFound                // the resource does not exist
	KindPermission              // RAM policy denies the call
	KindAuth                    // credentials rejected (signature, key, token)
	KindCredentialsExpired      // an STS token expired: refresh and retry once
	KindInvalidParameter        // the request is malformed: a bug or bad input
	KindUnsupported             // the disk or instance does not support the operation
	KindIdempotency             // the ClientToken was reused with other parameters
	KindNoCredentials           // no provider in the chain produced credentials
	KindMalformed               // the answer is not an ECS answer: empty, cut, not JSON, too large
)

var kindNames = map[Kind]string{
	KindUnknown: "unknown", KindThrottled: "throttled", KindServer: "server",
	KindTransport: "transport", KindInProgress: "in-progress", KindDiskState: "disk-state",
	KindInstanceState: "instance-state", KindQuota: "quota", KindNotFound: "not-found",
	KindPermission: "permission", KindAuth: "auth", KindCredentialsExpired: "credentials-expired",
	KindInvalidParameter: "invalid-parameter", KindUnsupported: "unsupported",
	KindIdempotency: "idempotency", KindNoCredentials: "no-credentials", KindMalformed: "malformed",
}

func (k Kind) String() string { return kindNames[k] }

// Temporary reports whether a call that failed this way may succeed if
// repeated unchanged (with the same ClientToken).
func (k Kind) Temporary() bool {
	switch k {
	case KindThrottled, KindServer, KindTransport, KindInProgress:
		return true
	}
	return false
}

// APIError is a failed ECS call, classified. Its Error is one line that says
// what failed and what to do.
type APIError struct {
	Action    string
	Code      string // the API's error code; empty for transport failures
	Message   string // the API's message
	Status    int    // HTTP status; 0 when no answer arrived
	RequestID string
	Resource  string // the disk, snapshot or instance the call was about
	Kind      Kind
	Err       error // the underlying SDK or transport error
	// Attempts counts the malformed answers a call got before it gave
	// up; 0 for other failures.
	Attempts int
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Action)
	if e.Resource != "" {
		fmt.Fprintf(&b, " %s", e.Resource)
	}
	b.WriteString(" failed: ")
	if e.Code != "" {
		b.WriteString(e.Code)
	} else if e.Err != nil {
		b.WriteString(oneLine(e.Err.Error()))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (%d attempts)", e.Attempts)
	}
	if hint := e.Hint(); hint != "" {
		b.WriteString(": ")
		b.WriteString(hint)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// CodeCreatingSnapshot refuses a snapshot of a disk whose previous one is
// still being created (disks that allow one task at a time).
const CodeCreatingSnapshot = "IncorrectDiskStatus.CreatingSnapshot"

// Hint says what the user can do about the failure.
func (e *APIError) Hint() string {
	switch {
	case e.Code == "QuotaExceed.Snapshot":
		return "the disk holds its maximum number of manual snapshots; delete old ones (ecssnap prune) and try again"
	case e.Code == CodeCreatingSnapshot:
		return "a snapshot of this disk is still being created; wait for it to finish and try again"
	case strings.HasPrefix(e.Code, "IncorrectDiskStatus"):
		return "the disk is not in a state that allows snapshots (it must be In_use); check it in the ECS console"
	case strings.HasPrefix(e.Code, "IncorrectInstanceStatus"):
		return "the instance must be Running or Stopped, and must have been started at least once"
	case strings.HasPrefix(e.Code, "IncorrectDiskType") || e.Kind == KindUnsupported:
		return "this disk type cannot be snapshotted (local or ephemeral disks); exclude it with --disks"
	case e.Code == "InvalidOperation.MultiAttachDisk":
		return "multi-attach disks cannot join a snapshot group; exclude the disk or snapshot it separately"
	case e.Code == "InstanceDiskLimitExceeded" || e.Code == "DiskAttachedNumberExceeded":
		return "the instance has as many disks attached as it may; detach one (or unmount an earlier restore) and try again"
	case strings.HasPrefix(e.Code, "NumberExceed") || strings.HasPrefix(e.Code, "CapacityExceed"):
		return "too many disks or too much capacity for one snapshot group; select fewer disks with --disks"
	case e.Kind == KindNotFound:
		return "the resource does not exist in this region; check the instance, disk or snapshot ID"
	case e.Kind == KindPermission:
		return "the RAM role or key lacks permission for ecs:" + e.Action + "; attach the ecssnap RAM policy"
	case e.Kind == KindCredentialsExpired:
		return "the STS token expired; credentials will be refreshed, or check the instance's RAM role"
	case e.Kind == KindNoCredentials && isNoCredentials(e.Err):
		return "" // the error says what is missing
	case e.Kind == KindNoCredentials:
		return "no credentials found: attach a RAM role to the instance, or set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	case e.Kind == KindAuth:
		return "the access key was rejected; check the credentials ecssnap uses (ecssnap doctor)"
	case e.Kind == KindThrottled:
		return "the API is throttling this account; try again later"
	case e.Kind == KindServer:
		return "the ECS service failed; try again later"
	case e.Kind == KindTransport:
		return "no answer from the ECS endpoint; check network access to it"
	case e.Kind == KindMalformed:
		return "what answers there is not the ECS API as it should be; check api_endpoint and any HTTP proxy on the way"
	case e.Kind == KindInProgress:
		return "the same request is still being processed; try again shortly"
	case e.Kind == KindIdempotency:
		return "the request token was already used with different parameters (a bug: please report it)"
	case e.Kind == KindInvalidParameter:
		if e.Message != "" {
			return oneLine(e.Message)
		}
		return "the request was rejected as invalid"
	}
	if e.Message != "" {
		return oneLine(e.Message)
	}
	return ""
}

// classify assigns a Kind to an API error code and HTTP status. Throttling is
// recognised by its code prefix: its status differs between actions.
func classify(code string, status int) Kind {
	switch {
	case strings.HasPrefix(code, "Throttling"):
		return KindThrottled
	case code == "IdempotentProcessing", code == "LastTokenProcessing": // the latter: CreateDisk's
		return KindInProgress
	case code == "IdempotentParameterMismatch":
		return KindIdempotency
	case strings.HasPrefix(code, "InvalidSecurityToken.Expired") || code == "SecurityTokenExpired":
		return KindCredentialsExpired
	case strings.HasPrefix(code, "SignatureDoesNotMatch") || strings.HasPrefix(code, "InvalidAccessKeyId") ||
		strings.HasPrefix(code, "InvalidSecurityToken") || code == "IncompleteSignature" ||
		strings.HasPrefix(code, "InvalidTimeStamp") || code == "SignatureNonceUsed":
		return KindAuth
	case strings.HasPrefix(code, "Forbidden") || code == "NoPermission" || strings.HasPrefix(code, "Forbidden.RAM"):
		return KindPermission
	case strings.HasSuffix(code, "LimitExceeded") || strings.HasSuffix(code, "NumberExceeded"):
		return KindQuota
	case strings.HasPrefix(code, "QuotaExceed") || strings.HasPrefix(code, "NumberExceed") || strings.HasPrefix(code, "CapacityExceed"):
		return KindQuota
	case strings.HasPrefix(code, "IncorrectDiskStatus"), code == "InvalidOperation.MultiAttachDisk", code == "InvalidDiskIds.NotInSameZone":
		return KindDiskState
	case strings.HasPrefix(code, "IncorrectInstanceStatus"), strings.HasPrefix(code, "InstanceLockedForSecurity"):
		return KindInstanceState
	case strings.HasPrefix(code, "IncorrectDiskType"), strings.HasSuffix(code, ".NotSupport"), strings.HasSuffix(code, ".NotSupported"):
		return KindUnsupported
	case strings.HasSuffix(code, ".NotFound") || status == 404:
		return KindNotFound
	case status >= 500:
		return KindServer
	case strings.HasPrefix(code, "Invalid") || strings.HasPrefix(code, "Missing") || status == 400:
		return KindInvalidParameter
	}
	return KindUnknown
}

// KindOf returns the Kind of err when it is (or wraps) an *APIError.
func KindOf(err error) Kind {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Kind
	}
	return KindUnknown
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
