// Package sdkcompat holds only tests: they drive the emulator (pkg/ecsemu)
// with Alibaba Cloud's current official SDKs at their default settings,
// as a user's own tooling would, to show the emulator answers them as the
// cloud does. The Go Tea SDK (github.com/alibabacloud-go/ecs-20140526/v7
// over darabonba-openapi/v2) is called in-process; the Node.js SDK
// (@alicloud/ecs20140526 over @alicloud/openapi-core) runs from node/
// against an emulator these tests start. Run them with make sdk-compat.
package sdkcompat
