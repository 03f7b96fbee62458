<#
.SYNOPSIS
Trusts the certificate the driver package was test-signed with.

.DESCRIPTION
Imports WDRLocalTestCert.cer (made by `cargo make package`) into the local
machine's Trusted Root Certification Authorities and Trusted Publishers
stores, so that the package's catalog and kcom_sample.sys verify and
installation does not stop at a publisher prompt.

.PARAMETER PackageDir
The driver package folder (default: target\release or target\debug
kcom_sample_package of this repository, or the current folder).
#>
param([string]$PackageDir)

. "$PSScriptRoot\common.ps1"
Assert-Administrator

$dir = Resolve-PackageDir $PackageDir
$cert = Join-Path $dir 'WDRLocalTestCert.cer'
if (-not (Test-Path $cert)) {
    throw "no WDRLocalTestCert.cer in $dir (it is made by cargo make package)"
}

foreach ($store in 'Cert:\LocalMachine\Root', 'Cert:\LocalMachine\TrustedPublisher') {
    $imported = Import-Certificate -FilePath $cert -CertStoreLocation $store
    Write-Host "imported $($imported.Subject) ($($imported.Thumbprint)) into $store"
}
