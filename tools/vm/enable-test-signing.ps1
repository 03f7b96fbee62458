<#
.SYNOPSIS
Turns on test signing in a test VM so that the test-signed kcom_sample.sys
can load.

.DESCRIPTION
Runs `bcdedit /set testsigning on`. Secure Boot must be off (it blocks test
signing; turn it off in the VM's firmware settings, e.g. Hyper-V: Settings >
Security > uncheck "Enable Secure Boot"). The setting takes effect only
after a REBOOT; the desktop then shows "Test Mode".

Use a disposable VM only: a kernel driver bug stops the whole machine.

.PARAMETER Reboot
Restart the VM right away.
#>
param([switch]$Reboot)

. "$PSScriptRoot\common.ps1"
Assert-Administrator

try {
    if (Confirm-SecureBootUEFI) {
        throw 'Secure Boot is on: turn it off in the VM settings first, then run this script again'
    }
} catch [System.PlatformNotSupportedException] {
    # BIOS (generation 1) VM: no Secure Boot at all.
} catch [System.UnauthorizedAccessException] {
    throw 'cannot read the Secure Boot state: run from an elevated PowerShell'
}

Write-Host '> bcdedit /set testsigning on'
bcdedit /set testsigning on
if ($LASTEXITCODE -ne 0) { throw "bcdedit failed with exit code $LASTEXITCODE" }

Write-Host ''
Write-Host 'Test signing is enabled from the NEXT BOOT on. Reboot the VM before installing the driver.'
if ($Reboot) {
    Restart-Computer -Force
}
