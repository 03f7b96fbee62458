/*
 * Stand-in for the WDK's WdfDriverEntry.lib (KMDF 1.33) in the substitute WDK
 * that ci/driver-image.sh assembles. An image linked with it is for checks on
 * Linux (the image lint, kmdf-host), never for a Windows machine.
 *
 * It does for a KMDF client what the WDK's library does:
 *
 * - It defines the client's framework globals: the function table pointer
 *   WdfFunctions_01033, WdfDriverGlobals, WdfClientVersionHigherThanFramework,
 *   WdfFunctionCount, WdfStructureCount and WdfStructures.
 * - FxDriverEntry, the image's entry point, binds the client to the framework
 *   (WdfVersionBind, exported by WdfLdr.sys) with a WDF_BIND_INFO2, then calls
 *   DriverEntry. If DriverEntry fails, it unbinds.
 * - When the framework asks for it (WDF_DRIVER_GLOBALS.DisplaceDriverUnload)
 *   and the driver has an unload routine, it puts itself first in the unload
 *   chain: the driver's unload routine runs, then WdfVersionUnbind.
 *
 * The bind structures follow fxldr.h of the KMDF sources
 * (microsoft/Windows-Driver-Frameworks,
 * src/framework/shared/inc/private/common/fxldr.h): WDF_BIND_INFO2 embeds a
 * WDF_BIND_INFO whose Size is that of the whole WDF_BIND_INFO2, and adds
 * pointers to the client globals the framework fills while it binds: the
 * oldest framework minor version the client accepts, whether the client is
 * newer than the framework, how many functions and structures the framework
 * provides, and the table of its structure sizes. wdk-sys checks every WDF
 * call's table index against WdfFunctionCount, so a bind that leaves it 0
 * makes the first WDF call fail.
 *
 * WdfMinimumVersionRequired is only referenced here: wdf.h defines it in the
 * client (a selectany variable holding KMDF_MINIMUM_VERSION_REQUIRED, else
 * KMDF_VERSION_MINOR), and wdk-sys compiles that definition from wdf.c with
 * the driver's wdk metadata (minimum-kmdf-version-minor). WDF_STUB keeps wdf.h
 * from defining it in this file.
 */
#define WDF_STUB
/* mingw-w64's wdm.h redefines these two as static inline after intrin.h
   declared them extern; clang in Microsoft mode then emits them as external
   definitions, which wdk-sys's wdf.c object defines too. Renamed here, the
   stub's copies (unused) cannot clash. */
#define InterlockedBitTestAndSet KcomStubInterlockedBitTestAndSet
#define InterlockedBitTestAndReset KcomStubInterlockedBitTestAndReset
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wmacro-redefined"
#include <ntddk.h>
#pragma clang diagnostic pop
#include <wdf.h>

typedef struct _WDF_VERSION {
    ULONG Major;
    ULONG Minor;
    ULONG Build;
} WDF_VERSION;

typedef struct _WDF_BIND_INFO {
    ULONG Size;
    PWCHAR Component;
    WDF_VERSION Version;
    ULONG FuncCount;
    WDFFUNC *FuncTable;
    PVOID Module;
} WDF_BIND_INFO, *PWDF_BIND_INFO;

typedef struct _WDF_BIND_INFO2 {
    WDF_BIND_INFO V1;
    ULONG *MinimumVersionRequired;
    BOOLEAN *ClientVersionHigherThanFramework;
    ULONG *FuncCountPtr;
    ULONG *StructCountPtr;
    WDF_STRUCT_INFO *StructTable;
} WDF_BIND_INFO2;

NTSTATUS NTAPI WdfVersionBind(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath,
                              PWDF_BIND_INFO BindInfo, PVOID *ComponentGlobals);
NTSTATUS NTAPI WdfVersionUnbind(PUNICODE_STRING RegistryPath, PWDF_BIND_INFO BindInfo,
                                PVOID ComponentGlobals);

DRIVER_INITIALIZE DriverEntry;
DRIVER_INITIALIZE FxDriverEntry;

/* Defined by the client (wdf.h, compiled into wdk-sys), see above. */
extern ULONG WdfMinimumVersionRequired;

const WDFFUNC *WdfFunctions_01033;
PWDF_DRIVER_GLOBALS WdfDriverGlobals;
BOOLEAN WdfClientVersionHigherThanFramework;
/* The counts start at this library's own: the framework overwrites them only
   when the client is newer than the framework (fxldr.h keeps V1.FuncCount and
   *FuncCountPtr in sync), and wdk-sys checks every call's table index against
   WdfFunctionCount, so 0 here would fail the first WDF call on a framework as
   new as the client. */
ULONG WdfFunctionCount = WdfFunctionTableNumEntries;    /* 458 for KMDF 1.33 */
ULONG WdfStructureCount = WDF_STRUCTURE_TABLE_NUM_ENTRIES; /* 81 for KMDF 1.33 */
WDF_STRUCT_INFO WdfStructures;

static WCHAR KmdfLibraryName[] = L"KmdfLibrary";

static WDF_BIND_INFO2 WdfBindInfo = {
    {
        sizeof(WDF_BIND_INFO2),
        KmdfLibraryName,
        {KMDF_VERSION_MAJOR, KMDF_VERSION_MINOR, 0},
        WdfFunctionTableNumEntries, /* 458 for KMDF 1.33 */
        (WDFFUNC *)&WdfFunctions_01033,
        NULL,
    },
    &WdfMinimumVersionRequired,
    &WdfClientVersionHigherThanFramework,
    &WdfFunctionCount,
    &WdfStructureCount,
    &WdfStructures,
};

/* The registry path outlives DriverEntry's argument: WdfVersionUnbind needs it
   at unload. A service key path is far shorter than this buffer. */
static WCHAR RegistryPathBuffer[512];
static UNICODE_STRING RegistryPathCopy = {0, sizeof(RegistryPathBuffer), RegistryPathBuffer};

static PDRIVER_UNLOAD ClientDriverUnload;

static VOID NTAPI FxStubDriverUnload(PDRIVER_OBJECT DriverObject)
{
    if (ClientDriverUnload != NULL) {
        ClientDriverUnload(DriverObject);
    }
    WdfVersionUnbind(&RegistryPathCopy, &WdfBindInfo.V1, WdfDriverGlobals);
}

NTSTATUS NTAPI FxDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;
    USHORT i;

    if (RegistryPath == NULL || RegistryPath->Length > RegistryPathCopy.MaximumLength) {
        return STATUS_INVALID_PARAMETER;
    }
    for (i = 0; i < RegistryPath->Length / sizeof(WCHAR); i++) {
        RegistryPathBuffer[i] = RegistryPath->Buffer[i];
    }
    RegistryPathCopy.Length = RegistryPath->Length;

    status = WdfVersionBind(DriverObject, &RegistryPathCopy, &WdfBindInfo.V1,
                            (PVOID *)&WdfDriverGlobals);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = DriverEntry(DriverObject, RegistryPath);
    if (!NT_SUCCESS(status)) {
        WdfVersionUnbind(&RegistryPathCopy, &WdfBindInfo.V1, WdfDriverGlobals);
        return status;
    }
    if (WdfDriverGlobals->DisplaceDriverUnload && DriverObject->DriverUnload != NULL) {
        ClientDriverUnload = DriverObject->DriverUnload;
        DriverObject->DriverUnload = FxStubDriverUnload;
    }
    return status;
}
