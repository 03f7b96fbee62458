<#
.SYNOPSIS
Exercises the installed driver with kcomctl: list, run all, stats.

.DESCRIPTION
Runs `kcomctl list`, `kcomctl run all` and `kcomctl stats` against the real
device (only SYSTEM and Administrators may open it, so run elevated). Exits
with the exit code of `run all`: 0 only if every exercise succeeded with
nothing outstanding.

.PARAMETER Kcomctl
kcomctl.exe (default: on PATH, next to this script, or in this repository's
target\release or target\debug).

.PARAMETER Iterations
--iterations for `run all` (default: kcomctl's own default).

.PARAMETER Json
Print JSON instead of tables.
#>
param([string]$Kcomctl, [int]$Iterations = 0, [switch]$Json)

. "$PSScriptRoot\common.ps1"
Assert-Administrator

if (-not $Kcomctl) {
    $root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
    $onPath = Get-Command kcomctl.exe -ErrorAction SilentlyContinue
    $candidates = @(
        (Join-Path $PSScriptRoot 'kcomctl.exe'),
        (Join-Path $root 'target\release\kcomctl.exe'),
        (Join-Path $root 'target\debug\kcomctl.exe')
    )
    if ($onPath) { $candidates = @($onPath.Source) + $candidates }
    $Kcomctl = $candidates | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $Kcomctl) {
        throw 'kcomctl.exe not found: build it with `cargo build --release -p kcomctl` or pass -Kcomctl'
    }
}

$common = @('--device')
if ($Json) { $common += '--json' }
$runArgs = @('run', 'all')
if ($Iterations -gt 0) { $runArgs += @('--iterations', "$Iterations") }

Write-Host "> kcomctl $($common -join ' ') list"
& $Kcomctl @common list
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

Write-Host "> kcomctl $($common -join ' ') $($runArgs -join ' ')"
& $Kcomctl @common @runArgs
$runCode = $LASTEXITCODE

Write-Host "> kcomctl $($common -join ' ') stats"
& $Kcomctl @common stats

exit $runCode
