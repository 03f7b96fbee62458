/*
 * Declarations the WDK's wdm.h has and mingw-w64's does not, appended to the
 * substitute tree's ntddk.h by ci/driver-image.sh. Only what kcom-sample's
 * dependencies bind to is here.
 *
 * - POOL_FLAGS and ExAllocatePool2 (Windows 10 version 2004, build 19041):
 *   wdk-alloc, the driver's global allocator, imports ExAllocatePool2, and
 *   wdk-sys defines the POOL_FLAG_* values itself (bindgen cannot evaluate the
 *   WDK's UI64-suffixed constants), so only the type and the routine are
 *   declared here.
 */
#ifndef KCOM_SAMPLE_WDKCOMPAT_H
#define KCOM_SAMPLE_WDKCOMPAT_H

typedef ULONG64 POOL_FLAGS;

NTKERNELAPI
PVOID
NTAPI
ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);

#endif
