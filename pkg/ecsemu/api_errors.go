package ecsemu

import (
	"fmt"
	"net/http"
)

// apiError is an ECS API error: an HTTP status, a code and a message. It is
// written as {"RequestId","HostId","Code","Message","Recommend"}, all
// strings, because the v1 SDK's error parser panics on any other type.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newErr(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Gateway (authentication and protocol) errors.
func errMissingParameter(name string) *apiError {
	return newErr(http.StatusBadRequest, "MissingParameter",
		"The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func errInvalidParameter(name string) *apiError {
	return newErr(http.StatusBadRequest, "InvalidParameter", "The specified parameter %q is not valid.", name)
}

func errMalformed(param string) *apiError {
	return newErr(http.StatusBadRequest, "Invalid"+param+".Malformed", "The specified parameter %q is not valid.", param)
}

var (
	errActionNotFound = newErr(http.StatusNotFound, "InvalidAction.NotFound",
		"Specified api is not found, please check your url and method.")
	errUnsupportedMethod = newErr(http.StatusBadRequest, "UnsupportedHTTPMethod",
		"This http method is not supported.")
	errTimestampFormat = newErr(http.StatusBadRequest, "InvalidTimeStamp.Format",
		"Specified time stamp or date value is not well formatted.")
	errTimestampExpired = newErr(http.StatusBadRequest, "InvalidTimeStamp.Expired",
		"Specified time stamp or date value is expired.")
	errSignatureMethod = newErr(http.StatusBadRequest, "InvalidSignatureMethod",
		"Specified signature method is not valid.")
	errSignatureVersion = newErr(http.StatusBadRequest, "InvalidSignatureVersion",
		"Specified signature version is not valid.")
	errAccessKeyNotFound = newErr(http.StatusNotFound, "InvalidAccessKeyId.NotFound",
		"Specified access key is not found.")
	errMissingSecurityToken = newErr(http.StatusBadRequest, "MissingSecurityToken",
		"SecurityToken is mandatory for this action.")
	errSecurityTokenMismatch = newErr(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey",
		"Specified SecurityToken mismatch with the AccessKey.")
	errSecurityTokenMalformed = newErr(http.StatusBadRequest, "InvalidSecurityToken.Malformed",
		"Specified SecurityToken is malformed.")
	errSecurityTokenExpired = newErr(http.StatusBadRequest, "InvalidSecurityToken.Expired",
		"Specified SecurityToken is expired.")
	errNonceUsed = newErr(http.StatusBadRequest, "SignatureNonceUsed",
		"Specified signature nonce was used already.")
	errRegionNotFound = newErr(http.StatusNotFound, "InvalidRegionId.NotFound",
		"The specified RegionId does not exist in our records.")
	errFormat = newErr(http.StatusBadRequest, "InvalidParameter.Format",
		"The emulator answers Format=JSON only.")
	errDryRun = newErr(http.StatusBadRequest, "DryRunOperation",
		"Request validation has been passed with DryRun flag set.")
)

// errSignatureMismatch carries the server's string to sign after the fixed
// marker, as the real gateway does; the SDK compares it with its own.
func errSignatureMismatch(stringToSign string) *apiError {
	return newErr(http.StatusBadRequest, "SignatureDoesNotMatch",
		"Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
}

// errIncompleteSignature refuses a signature V3 request whose Authorization
// header is malformed or leaves out what must be signed.
func errIncompleteSignature(detail string) *apiError {
	return newErr(http.StatusBadRequest, "IncompleteSignature",
		"The request signature does not conform to Aliyun standards: %s.", detail)
}

// Fault-injection errors. Throttling is classified by the code prefix
// "Throttling"; the status differs by action.
var (
	errThrottlingUser = newErr(http.StatusBadRequest, "Throttling.User",
		"Request was denied due to user flow control.")
	errThrottlingCreate = newErr(http.StatusForbidden, "Throttling",
		"Request was denied due to request throttling.")
	errInternal = newErr(http.StatusInternalServerError, "InternalError",
		"The request processing has failed due to some unknown error, exception or failure.")
	errUnavailable = newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
		"The request has failed due to a temporary failure of the server.")
)

// State and resource errors.
var (
	errDiskNotFound         = newErr(http.StatusNotFound, "InvalidDiskId.NotFound", "The specified disk does not exist.")
	errInstanceNotFound     = newErr(http.StatusNotFound, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.")
	errSnapshotNotFound     = newErr(http.StatusNotFound, "InvalidSnapshotId.NotFound", "The specified snapshot does not exist.")
	errGroupNotFound        = newErr(http.StatusNotFound, "InvalidSnapshotGroup.NotFound", "The specified snapshot group does not exist.")
	errResourceNotFound     = newErr(http.StatusNotFound, "InvalidResourceId.NotFound", "The specified ResourceIds are not found in our records.")
	errResourceType         = newErr(http.StatusBadRequest, "InvalidResourceType.NotFound", "The specified ResourceType is not supported.")
	errIncorrectDiskStatus  = newErr(http.StatusForbidden, "IncorrectDiskStatus", "The current disk status does not support this operation.")
	errCreatingSnapshot     = newErr(http.StatusForbidden, "IncorrectDiskStatus.CreatingSnapshot", "A previous snapshot creation is in process.")
	errIncorrectInstance    = newErr(http.StatusForbidden, "IncorrectInstanceStatus", "The current status of the resource does not support this operation.")
	errInstanceLocked       = newErr(http.StatusForbidden, "InstanceLockedForSecurity", "The specified operation is denied as your instance is locked for security reasons.")
	errDiskTypeNotSupported = newErr(http.StatusForbidden, "IncorrectDiskType.NotSupport", "The specified disk type does not support snapshots.")
	errQuotaSnapshot        = newErr(http.StatusForbidden, "QuotaExceed.Snapshot", "The maximum number of snapshots is exceeded.")
	errIdempotentMismatch   = newErr(http.StatusForbidden, "IdempotentParameterMismatch", "The specified parameters are different from before.")
	errIdempotentProcessing = newErr(http.StatusForbidden, "IdempotentProcessing", "The previous idempotent request(s) is still processing.")
	errCreatedImage         = newErr(http.StatusForbidden, "SnapshotCreatedImage", "The snapshot has been used to create a custom image and cannot be deleted.")
	errCreatedDisk          = newErr(http.StatusForbidden, "SnapshotCreatedDisk", "The snapshot has been used to create disks; set Force to delete it.")
	errExcludeConflict      = newErr(http.StatusBadRequest, "InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict", "DiskId.N and ExcludeDiskId.N cannot be specified at the same time.")
	errMultiAttach          = newErr(http.StatusForbidden, "InvalidOperation.MultiAttachDisk", "Snapshot-consistent groups do not support multi-attach disks.")
	errNotInSameZone        = newErr(http.StatusForbidden, "InvalidDiskIds.NotInSameZone", "The specified disks are not in the same zone.")
	errGroupCategory        = newErr(http.StatusForbidden, "InvalidDiskCategory.NotSupported", "Snapshot-consistent groups support only ESSD-family disks of one kind.")
	errNoGroupDisks         = newErr(http.StatusForbidden, "InvalidDiskIds.Empty", "No disk is eligible for the snapshot-consistent group.")
	errTagCount             = newErr(http.StatusBadRequest, "InvalidTagCount", "The number of specified tags exceeds the upper limit.")
	errSnapshotName         = newErr(http.StatusBadRequest, "InvalidSnapshotName.Malformed", "Specified snapshot name is not valid.")
	errGroupName            = newErr(http.StatusBadRequest, "InvalidName.Malformed", "Specified name is not valid.")
	errDescription          = newErr(http.StatusBadRequest, "InvalidDescription.Malformed", "Specified description is not valid.")
	errTagKey               = newErr(http.StatusBadRequest, "InvalidTagKey.Malformed", "The specified Tag.n.Key is not valid.")
	errTagValue             = newErr(http.StatusBadRequest, "InvalidTagValue.Malformed", "The specified Tag.n.Value is not valid.")
	errRetentionDays        = newErr(http.StatusBadRequest, "InvalidRetentionDays.Malformed", "The specified RetentionDays is not valid; valid values are 1 to 65536.")
	errClientToken          = newErr(http.StatusBadRequest, "InvalidClientToken.Malformed", "The specified ClientToken is not valid: ASCII, at most 64 characters.")
	errNextToken            = newErr(http.StatusBadRequest, "InvalidNextToken.Malformed", "The specified NextToken is not valid.")
	errTooManyGroupDisks    = newErr(http.StatusForbidden, "NumberExceed.TooManyDisks", "The number of disks exceeds the snapshot-consistent group limit.")
	errTooMuchGroupCapacity = newErr(http.StatusForbidden, "CapacityExceed.TooManyDisks", "The total capacity of the disks exceeds the snapshot-consistent group limit.")
	errDiskNotOnInstance    = newErr(http.StatusForbidden, "InvalidDiskId.NotBelongToInstance", "The specified disk is not attached to the specified instance.")
	errGroupNeedsDiskOrInst = newErr(http.StatusBadRequest, "MissingParameter", "InstanceId or DiskId.N must be specified.")
)
