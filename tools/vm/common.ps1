# Helpers shared by the test VM scripts (dot-sourced, not run directly).
#
# Every script stops at the first error: a half-installed kernel driver is
# worse than none.

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# The hardware ID the INF installs the root-enumerated device under.
$KcomHardwareId = 'Root\KcomSample'

function Assert-Administrator {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'run this script from an elevated PowerShell (Run as Administrator)'
    }
}

# The driver package folder: the one given, else the release or debug
# output of `cargo make package` next to this repository's target folder.
function Resolve-PackageDir([string]$PackageDir) {
    if ($PackageDir) {
        $candidates = @($PackageDir)
    } else {
        $root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
        $candidates = @(
            (Join-Path $root 'target\release\kcom_sample_package'),
            (Join-Path $root 'target\debug\kcom_sample_package'),
            (Get-Location).Path
        )
    }
    foreach ($dir in $candidates) {
        if (Test-Path (Join-Path $dir 'kcom_sample.inf')) {
            return (Resolve-Path $dir).Path
        }
    }
    throw "no kcom_sample.inf in: $($candidates -join ', '); pass -PackageDir <folder of the driver package>"
}

# devcon.exe: the one given, else one on PATH, next to the package, or in
# the WDK's Tools folder.
function Resolve-Devcon([string]$DevconPath, [string]$PackageDir) {
    if ($DevconPath) {
        if (-not (Test-Path $DevconPath)) { throw "devcon not found at $DevconPath" }
        return (Resolve-Path $DevconPath).Path
    }
    $onPath = Get-Command devcon.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    if ($PackageDir -and (Test-Path (Join-Path $PackageDir 'devcon.exe'))) {
        return (Join-Path $PackageDir 'devcon.exe')
    }
    $kits = Join-Path ${env:ProgramFiles(x86)} 'Windows Kits\10\Tools'
    if (Test-Path $kits) {
        $found = Get-ChildItem -Path $kits -Filter devcon.exe -Recurse -ErrorAction SilentlyContinue |
            Where-Object { $_.DirectoryName -like '*\x64' } |
            Sort-Object FullName -Descending |
            Select-Object -First 1
        if ($found) { return $found.FullName }
    }
    throw 'devcon.exe not found: copy it from the WDK (Tools\<version>\x64\devcon.exe) next to the package or pass -DevconPath'
}

# Runs devcon with the arguments and fails on its error exit codes
# (0 = done, 1 = done but a reboot is needed).
function Invoke-Devcon([string]$Devcon, [string[]]$Arguments) {
    Write-Host "> devcon $($Arguments -join ' ')"
    & $Devcon @Arguments
    $code = $LASTEXITCODE
    if ($code -eq 1) {
        Write-Warning 'devcon says a reboot is needed to finish; reboot the VM'
    } elseif ($code -ne 0) {
        throw "devcon $($Arguments[0]) failed with exit code $code"
    }
}

# Every devnode with the sample's hardware ID, present or not (a device that
# failed to start is still a devnode).
function Get-KcomDevices {
    @(Get-PnpDevice -ErrorAction SilentlyContinue |
        Where-Object { $_.HardwareID -contains $KcomHardwareId })
}

# What a device manager problem code means for this driver, and what to do.
function Get-ProblemAdvice([int]$Code) {
    switch ($Code) {
        10 { 'the device failed to start: EvtDriverDeviceAdd or the KMDF start path failed; check the kernel debugger output and C:\Windows\INF\setupapi.dev.log' }
        28 { 'no driver is installed for the device: run install-driver.ps1 from the package folder' }
        31 { 'Windows could not load the driver for the device (AddDevice failed): attach a kernel debugger (!wdfkd.wdflogdump kcom_sample) for the failing status' }
        39 { 'the driver image could not be loaded: check that this is Windows 10 version 2004 (build 19041) or later and that the image is the one built with the WDK' }
        52 { 'the driver signature could not be verified: test signing must be on (enable-test-signing.ps1, reboot) and the test certificate trusted (import-test-cert.ps1)' }
        default { "see https://learn.microsoft.com/windows-hardware/drivers/install/device-manager-error-messages for code $Code" }
    }
}
