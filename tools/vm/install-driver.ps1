<#
.SYNOPSIS
Installs kcom_sample.sys: creates the root-enumerated device Root\KcomSample
and starts the driver.

.DESCRIPTION
Refuses to run below Windows 10 version 2004 (build 19041, the driver's
floor) or when a Root\KcomSample device already exists (devcon install would
create a second devnode). Runs `devcon install kcom_sample.inf
Root\KcomSample` in the driver package folder, then checks the device's
status and problem code with Get-PnpDevice: devcon reports success even for
a device that failed to start. Needs test signing on (enable-test-signing.ps1,
then a reboot) and the test certificate trusted (import-test-cert.ps1).

.PARAMETER PackageDir
The driver package folder (default: target\release or target\debug
kcom_sample_package of this repository, or the current folder).

.PARAMETER DevconPath
devcon.exe (default: on PATH, in the package folder, or in the WDK).
#>
param([string]$PackageDir, [string]$DevconPath)

. "$PSScriptRoot\common.ps1"
Assert-Administrator

$build = [Environment]::OSVersion.Version.Build
if ($build -lt 19041) {
    throw "this is Windows build $build; kcom_sample.sys needs Windows 10 version 2004 (build 19041) or later (KMDF 1.31, ExAllocatePool2)"
}

$dir = Resolve-PackageDir $PackageDir
$devcon = Resolve-Devcon $DevconPath $dir

$existing = Get-KcomDevices
if ($existing.Count -gt 0) {
    $ids = ($existing | ForEach-Object { "$($_.InstanceId) ($($_.Status))" }) -join ', '
    throw "a $KcomHardwareId device already exists: $ids. Remove it first (remove-driver.ps1), or install a new build over it with: devcon update kcom_sample.inf $KcomHardwareId"
}

Push-Location $dir
try {
    Invoke-Devcon $devcon @('install', 'kcom_sample.inf', $KcomHardwareId)
} finally {
    Pop-Location
}

$devices = Get-KcomDevices
if ($devices.Count -ne 1) {
    throw "expected one $KcomHardwareId device after devcon install, found $($devices.Count)"
}
$device = $devices[0]
$problem = [int]$device.ConfigManagerErrorCode
Write-Host "> $($device.InstanceId): status $($device.Status), problem code $problem"
if ($device.Status -ne 'OK' -or $problem -ne 0) {
    throw "the device did not start (status $($device.Status), problem code $problem): $(Get-ProblemAdvice $problem). Remove it with remove-driver.ps1 before installing again."
}
Write-Host ''
Write-Host 'Installed and started. Next: run-kcomctl.ps1 (from this elevated prompt).'
