export type { CommonEmulatorOptions, EmulatorFault, EmulatorSurface } from './core';
export * from './emulator';
export * from './datacenter';
