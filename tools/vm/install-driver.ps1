<#
.SYNOPSIS
Installs kcom_sample.sys: creates the root-enumerated device Root\KcomSample
and starts the driver.

.DESCRIPTION
Runs `devcon install kcom_sample.inf Root\KcomSample` in the driver package
folder, then `devcon status Root\KcomSample`. Needs test signing on
(enable-test-signing.ps1, then a reboot) and the test certificate trusted
(import-test-cert.ps1).

.PARAMETER PackageDir
The driver package folder (default: target\release or target\debug
kcom_sample_package of this repository, or the current folder).

.PARAMETER DevconPath
devcon.exe (default: on PATH, in the package folder, or in the WDK).
#>
param([string]$PackageDir, [string]$DevconPath)

. "$PSScriptRoot\common.ps1"
Assert-Administrator

$dir = Resolve-PackageDir $PackageDir
$devcon = Resolve-Devcon $DevconPath $dir

Push-Location $dir
try {
    Invoke-Devcon $devcon @('install', 'kcom_sample.inf', $KcomHardwareId)
    Invoke-Devcon $devcon @('status', $KcomHardwareId)
} finally {
    Pop-Location
}
Write-Host ''
Write-Host 'Installed. Next: run-kcomctl.ps1 (from this elevated prompt).'
