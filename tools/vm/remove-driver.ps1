<#
.SYNOPSIS
Removes the kcom sample device and its driver package.

.DESCRIPTION
Runs `devcon remove Root\KcomSample` (stops and unloads the driver; every
COM object is released and every pool allocation freed), then deletes the
package from the driver store with `pnputil /delete-driver oemNN.inf
/uninstall`, finding oemNN.inf by the package's original name.

.PARAMETER DevconPath
devcon.exe (default: on PATH or in the WDK).

.PARAMETER KeepPackage
Only remove the device; leave the package in the driver store.
#>
param([string]$DevconPath, [switch]$KeepPackage)

. "$PSScriptRoot\common.ps1"
Assert-Administrator

$devcon = Resolve-Devcon $DevconPath $null
Invoke-Devcon $devcon @('remove', $KcomHardwareId)

if ($KeepPackage) { return }

$packages = @(Get-WindowsDriver -Online |
    Where-Object { $_.OriginalFileName -like '*\kcom_sample.inf' })
if ($packages.Count -eq 0) {
    Write-Host 'no kcom_sample package in the driver store'
    return
}
foreach ($p in $packages) {
    Write-Host "> pnputil /delete-driver $($p.Driver) /uninstall"
    pnputil /delete-driver $p.Driver /uninstall
    if ($LASTEXITCODE -ne 0) { throw "pnputil failed with exit code $LASTEXITCODE" }
}
