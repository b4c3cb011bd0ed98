export {
  startBitbucketEmulator,
  DEMO_USERS,
  type BitbucketEmulator,
  type EmulatorEmail,
  type EmulatorEndpoint,
  type EmulatorFault,
  type EmulatorOptions,
  type EmulatorStrategyOptions,
  type EmulatorUser,
  type EmulatorUserInput,
  type EmulatorWorkspace,
  type WorkspacePermission,
} from './emulator';
