export type { CommonEmulatorOptions, EmulatorFault, EmulatorSurface } from './core';
export {
  startBitbucketEmulator,
  DEMO_USERS,
  type BitbucketEmulator,
  type EmulatorEmail,
  type EmulatorEndpoint,
  type EmulatorOptions,
  type EmulatorStrategyOptions,
  type EmulatorUser,
  type EmulatorUserInput,
  type EmulatorWorkspace,
  type WorkspacePermission,
} from './emulator';
export {
  DATA_CENTER_DEMO_USERS,
  startBitbucketDataCenterEmulator,
  type BitbucketDataCenterEmulator,
  type DataCenterEmulatorOptions,
  type DataCenterEmulatorStrategyOptions,
  type DataCenterEmulatorUser,
  type DataCenterEmulatorUserInput,
  type DataCenterEndpoint,
} from './datacenter';
