// The ecssnap emulator driven by Alibaba Cloud's official Node.js SDK
// (@alicloud/ecs20140526 over @alicloud/openapi-core) at its defaults.
// The Go test in .. (node_test.go) starts the emulator and runs this file
// with `node --test`, passing what a client needs in ECSEMU_* variables:
//   ECSEMU_ENDPOINT    host:port of the API (HTTPS)
//   ECSEMU_CA          PEM file of the emulator's test CA
//   ECSEMU_AK, ECSEMU_SECRET  long-term keys (unused with credentials=chain)
//   ECSEMU_REGION, ECSEMU_INSTANCE, ECSEMU_DATA_DISK
//   ECSEMU_SIGNATURE   v3 (the SDK's default) or v1 (signatureAlgorithm "v2")
//   ECSEMU_CREDENTIALS keys, or chain: the default credential chain, which
//                      finds the emulated RAM role at 100.100.100.200
//   ECSEMU_SCENARIO    paging (the Go side's pagingScenario) or default
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import Ecs, * as $Ecs from '@alicloud/ecs20140526';
import OpenApiCore from '@alicloud/openapi-core';
import Credential from '@alicloud/credentials';
import * as Dara from '@darabonba/typescript';

const { $OpenApiUtil } = OpenApiCore;
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run these tests through make sdk-compat`);
  return v;
};

const endpoint = env('ECSEMU_ENDPOINT');
const ca = readFileSync(env('ECSEMU_CA'), 'utf8');
const region = env('ECSEMU_REGION');
const instance = env('ECSEMU_INSTANCE');
const dataDisk = env('ECSEMU_DATA_DISK');
const signature = env('ECSEMU_SIGNATURE');
const credentials = env('ECSEMU_CREDENTIALS');
const scenario = process.env.ECSEMU_SCENARIO || 'default';

// config is what a user writes: credentials, the endpoint, the CA to
// trust; protocol, signature and retries stay at the SDK's defaults.
function config(overrides = {}) {
  const c = new $OpenApiUtil.Config({ endpoint, regionId: region, ca });
  if (credentials === 'chain') {
    c.credential = new Credential.default();
  } else {
    c.accessKeyId = env('ECSEMU_AK');
    c.accessKeySecret = env('ECSEMU_SECRET');
  }
  if (signature === 'v1') c.signatureAlgorithm = 'v2';
  return Object.assign(c, overrides);
}

const client = (overrides) => new Ecs.default(config(overrides));

async function wantError(promise, code, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `code of ${err}`);
    assert.equal(err.statusCode, status, `status of ${err}`);
    return true;
  });
}

async function listTags(c, type, id) {
  const r = await c.listTagResources(new $Ecs.ListTagResourcesRequest({ regionId: region, resourceType: type, resourceId: [id] }));
  return r.body.tagResources.tagResource.map((t) => `${t.tagKey}=${t.tagValue}`);
}

test('every action the emulator serves', async () => {
  const c = client();
  const inst = await c.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: region, instanceIds: JSON.stringify([instance]) }));
  assert.equal(inst.body.instances.instance[0].instanceId, instance);

  const attr = await c.describeInstanceAttribute(new $Ecs.DescribeInstanceAttributeRequest({ instanceId: instance }));
  assert.equal(attr.body.status, 'Running');
  assert.equal(attr.body.regionId, region);

  const st = await c.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: region, instanceId: [instance] }));
  assert.deepEqual(st.body.instanceStatuses.instanceStatus.map((s) => [s.instanceId, s.status]), [[instance, 'Running']]);

  const disks = await c.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([dataDisk]) }));
  assert.equal(disks.body.disks.disk[0].diskId, dataDisk);

  const snap = await c.createSnapshot(new $Ecs.CreateSnapshotRequest({
    diskId: dataDisk, snapshotName: 'node-sdk', clientToken: `node-${signature}-${credentials}`,
    tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'owner', value: 'node' })],
  }));
  const sid = snap.body.snapshotId;
  assert.match(sid, /^s-/);

  await c.modifySnapshotAttribute(new $Ecs.ModifySnapshotAttributeRequest({ snapshotId: sid, description: 'from the Node.js SDK' }));
  const ds = await c.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, snapshotIds: JSON.stringify([sid]) }));
  assert.equal(ds.body.snapshots.snapshot[0].description, 'from the Node.js SDK');

  await c.tagResources(new $Ecs.TagResourcesRequest({
    regionId: region, resourceType: 'snapshot', resourceId: [sid],
    tag: [new $Ecs.TagResourcesRequestTag({ key: 'stage', value: 'test' })],
  }));
  assert.deepEqual(await listTags(c, 'snapshot', sid), ['owner=node', 'stage=test']);
  await c.untagResources(new $Ecs.UntagResourcesRequest({ regionId: region, resourceType: 'snapshot', resourceId: [sid], tagKey: ['owner'] }));
  assert.deepEqual(await listTags(c, 'snapshot', sid), ['stage=test']);

  const grp = await c.createSnapshotGroup(new $Ecs.CreateSnapshotGroupRequest({ regionId: region, instanceId: instance, name: 'node-group' }));
  const gid = grp.body.snapshotGroupId;
  const groups = await c.describeSnapshotGroups(new $Ecs.DescribeSnapshotGroupsRequest({ regionId: region, snapshotGroupId: [gid] }));
  assert.equal(groups.body.snapshotGroups.snapshotGroup[0].snapshotGroupId, gid);
  await c.deleteSnapshotGroup(new $Ecs.DeleteSnapshotGroupRequest({ regionId: region, snapshotGroupId: gid }));
  await c.deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId: sid }));
  await wantError(c.deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId: sid })), 'InvalidSnapshotId.NotFound', 404);
});

// waitFor polls get() until it returns want: the Go side's scenarios
// (quickRestore) make every asynchronous step take a tenth of a second.
async function waitFor(what, want, get) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const got = await get();
    if (got === want) return;
    if (Date.now() > deadline) assert.fail(`${what} is still ${got} after 20 s, want ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const diskStatus = (c, id) => async () => {
  const r = await c.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, diskIds: JSON.stringify([id]) }));
  assert.equal(r.body.disks.disk.length, 1, `DescribeDisks listed ${r.body.disks.disk.length} disks for ${id}`);
  return r.body.disks.disk[0].status;
};
const instanceStatus = (c) => async () =>
  (await c.describeInstanceAttribute(new $Ecs.DescribeInstanceAttributeRequest({ instanceId: instance }))).body.status;
const snapshotStatus = (c, id) => async () => {
  const r = await c.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, snapshotIds: JSON.stringify([id]) }));
  return r.body.snapshots.snapshot[0].status;
};

// The restore actions through their documented preconditions, with one
// refusal per family. It leaves the instance Running and no disk behind,
// so it can run again on the same emulator.
test('restore actions', async () => {
  const c = client();
  const unique = `node-${signature}-${credentials}-${Date.now()}`;
  const attr = await c.describeInstanceAttribute(new $Ecs.DescribeInstanceAttributeRequest({ instanceId: instance }));
  const zone = attr.body.zoneId;
  const disks = await c.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, instanceId: instance, diskType: 'system' }));
  const systemDisk = disks.body.disks.disk[0].diskId;

  const snapOf = async (diskId) =>
    (await c.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId, snapshotName: 'node-restore' }))).body.snapshotId;
  const dataSnap = await snapOf(dataDisk);
  const sysSnap = await snapOf(systemDisk);
  await waitFor(`snapshot ${dataSnap}`, 'accomplished', snapshotStatus(c, dataSnap));
  await waitFor(`snapshot ${sysSnap}`, 'accomplished', snapshotStatus(c, sysSnap));

  // Restore beside: CreateDisk -> Available -> AttachDisk -> In_use ->
  // DetachDisk -> Available -> DeleteDisk.
  const cd = await c.createDisk(new $Ecs.CreateDiskRequest({
    regionId: region, zoneId: zone, snapshotId: dataSnap, diskCategory: 'cloud_essd', performanceLevel: 'PL1',
    diskName: 'node-restore', clientToken: `disk-${unique}`,
    tag: [new $Ecs.CreateDiskRequestTag({ key: 'ecssnap:restore-of', value: dataSnap })],
  }));
  const disk = cd.body.diskId;
  assert.match(disk, /^d-/);
  const attach = () => c.attachDisk(new $Ecs.AttachDiskRequest({ instanceId: instance, diskId: disk }));
  await wantError(attach(), 'IncorrectDiskStatus', 403); // still Creating
  await waitFor(`new disk ${disk}`, 'Available', diskStatus(c, disk));
  await attach();
  await waitFor(`attached disk ${disk}`, 'In_use', diskStatus(c, disk));
  const del = () => c.deleteDisk(new $Ecs.DeleteDiskRequest({ diskId: disk }));
  await wantError(del(), 'DiskStillAttached', 403);
  await c.detachDisk(new $Ecs.DetachDiskRequest({ instanceId: instance, diskId: disk }));
  await waitFor(`detached disk ${disk}`, 'Available', diskStatus(c, disk));
  await del();
  await wantError(del(), 'InvalidDiskId.NotFound', 404);

  // In-place rollback: only on a Stopped instance.
  const reset = (snapshotId) => c.resetDisk(new $Ecs.ResetDiskRequest({ diskId: dataDisk, snapshotId }));
  await wantError(reset(dataSnap), 'IncorrectInstanceStatus', 403);
  await wantError(c.startInstance(new $Ecs.StartInstanceRequest({ instanceId: instance })), 'IncorrectInstanceStatus', 403);
  await c.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: instance, stoppedMode: 'KeepCharging' }));
  await waitFor('instance', 'Stopped', instanceStatus(c));
  await wantError(reset(sysSnap), 'InvalidParameter.Mismatch', 403);
  await reset(dataSnap);
  await waitFor('reset data disk', 'In_use', diskStatus(c, dataDisk));
  const rs = await c.resetDisks(new $Ecs.ResetDisksRequest({
    regionId: region,
    disk: [
      new $Ecs.ResetDisksRequestDisk({ diskId: systemDisk, snapshotId: sysSnap }),
      new $Ecs.ResetDisksRequestDisk({ diskId: dataDisk, snapshotId: dataSnap }),
    ],
  }));
  assert.deepEqual(rs.body.operationProgressSet.operationProgress.map((o) => o.operationStatus), ['Success', 'Success']);
  await waitFor('reset system disk', 'In_use', diskStatus(c, systemDisk));
  await waitFor('reset data disk', 'In_use', diskStatus(c, dataDisk));
  await c.startInstance(new $Ecs.StartInstanceRequest({ instanceId: instance }));
  await waitFor('instance', 'Running', instanceStatus(c));

  // An image from a system-disk snapshot (a data-disk one is refused).
  await wantError(c.createImage(new $Ecs.CreateImageRequest({ regionId: region, snapshotId: dataSnap })), 'OperationDenied', 403);
  const ci = await c.createImage(new $Ecs.CreateImageRequest({ regionId: region, snapshotId: sysSnap, imageName: unique }));
  const image = ci.body.imageId;
  await waitFor(`image ${image}`, 'Available', async () => {
    const r = await c.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageId: image, status: 'Creating,Available' }));
    assert.deepEqual(r.body.images.image.map((i) => i.imageId), [image]);
    return r.body.images.image[0].status;
  });
  const byName = await c.describeImages(new $Ecs.DescribeImagesRequest({ regionId: region, imageName: unique }));
  assert.deepEqual(byName.body.images.image.map((i) => [i.imageId, i.status]), [[image, 'Available']]);
});

test('both paging styles', { skip: scenario !== 'paging' && 'needs the paging scenario' }, async () => {
  const c = client();
  for (let i = 0; i < 5; i++) {
    await c.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: `d-page${i % 3}` }));
  }
  // NextToken/MaxResults until the token is empty.
  const seen = new Set();
  let nextToken;
  let pages = 0;
  do {
    const r = await c.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: region, maxResults: 2, nextToken, diskId: undefined }));
    r.body.snapshots.snapshot.forEach((s) => seen.add(s.snapshotId));
    nextToken = r.body.nextToken;
    pages++;
  } while (nextToken);
  assert.ok(pages >= 3 && seen.size >= 5, `${pages} pages, ${seen.size} snapshots`);

  // PageNumber/PageSize against TotalCount.
  const ids = [];
  for (let page = 1; ; page++) {
    const r = await c.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region, pageNumber: page, pageSize: 2 }));
    assert.equal(r.body.totalCount, 5);
    if (r.body.disks.disk.length === 0) break;
    ids.push(...r.body.disks.disk.map((d) => d.diskId));
  }
  assert.equal(new Set(ids).size, 5);

  const statuses = [];
  for (let page = 1; page <= 3; page++) {
    const r = await c.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: region, pageNumber: page, pageSize: 1 }));
    assert.equal(r.body.totalCount, 3);
    statuses.push(...r.body.instanceStatuses.instanceStatus.map((s) => s.instanceId));
  }
  assert.deepEqual(statuses, [instance, 'i-page0', 'i-page1']);

  // ListTagResources: NextToken only, two pairs a page in this scenario.
  const pairs = [];
  nextToken = undefined;
  pages = 0;
  do {
    const r = await c.listTagResources(new $Ecs.ListTagResourcesRequest({
      regionId: region, resourceType: 'disk', nextToken,
      tag: [new $Ecs.ListTagResourcesRequestTag({ key: 'team', value: 'paging' })],
    }));
    pairs.push(...r.body.tagResources.tagResource.map((t) => t.resourceId));
    nextToken = r.body.nextToken;
    pages++;
  } while (nextToken && pages < 10);
  assert.deepEqual(pairs, ['d-page0', 'd-page1', 'd-page2']);
  assert.equal(pages, 2);
});

test('error paths', { skip: credentials === 'chain' && 'covered with long-term keys' }, async () => {
  const describe = (c) => c.describeDisks(new $Ecs.DescribeDisksRequest({ regionId: region }));
  await wantError(describe(client({ accessKeySecret: 'not-the-secret' })), 'SignatureDoesNotMatch', 400);
  await wantError(describe(client({ accessKeyId: 'LTAInobody' })), 'InvalidAccessKeyId.NotFound', 404);
  await wantError(client().describeDisks(new $Ecs.DescribeDisksRequest({})), 'MissingParameter', 400);
  await wantError(client().createSnapshot(new $Ecs.CreateSnapshotRequest({})), 'MissingParameter', 400);
  await wantError(client().createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: 'd-nonexistent' })), 'InvalidDiskId.NotFound', 404);
  await wantError(client().describeInstanceAttribute(new $Ecs.DescribeInstanceAttributeRequest({ instanceId: 'i-nonexistent' })),
    'InvalidInstanceId.NotFound', 404);

  // Stale dates and reused nonces through the SDK's global parameters,
  // which override the values it generates.
  const old = new Date(Date.now() - 20 * 60 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const fixedNonce = `node-fixed-${signature}`;
  const globals = signature === 'v3'
    ? [{ headers: { 'x-acs-date': old } }, { headers: { 'x-acs-signature-nonce': fixedNonce } }]
    : [{ queries: { Timestamp: old } }, { queries: { SignatureNonce: fixedNonce } }];
  await wantError(describe(client({ globalParameters: new $OpenApiUtil.GlobalParameters(globals[0]) })), 'InvalidTimeStamp.Expired', 400);
  const sameNonce = client({ globalParameters: new $OpenApiUtil.GlobalParameters(globals[1]) });
  await describe(sameNonce);
  await wantError(describe(sameNonce), 'SignatureNonceUsed', 400);

  // An action the emulator does not serve, through the SDK's generic call.
  const params = new $OpenApiUtil.Params({
    action: 'DescribeNothing', version: '2014-05-26', protocol: 'HTTPS', pathname: '/', method: 'POST',
    authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
  });
  const c = client();
  await wantError(c.callApi(params, new $OpenApiUtil.OpenApiRequest({ query: { RegionId: region } }), new Dara.RuntimeOptions({})),
    'InvalidAction.NotFound', 404);
});
