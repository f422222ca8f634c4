// Obvious web shells, script droppers and executables: never part of a cabinet dossier.
rule php_webshell
{
    meta:
        description = "PHP code that runs commands or evaluates request data"
        action = "block"
        reason = "malicious_content"
        severity = "high"
    strings:
        $php = "<?php" nocase
        $exec = /(eval|assert|system|passthru|shell_exec|exec|popen|proc_open)\s*\(\s*(base64_decode\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)/ nocase
    condition:
        $php and $exec
}

rule jsp_asp_webshell
{
    meta:
        description = "JSP/ASP code that runs commands from a request"
        action = "block"
        reason = "malicious_content"
        severity = "high"
    strings:
        $jsp = /Runtime\.getRuntime\(\)\.exec\(\s*request\.getParameter/ nocase
        $asp1 = /eval\s*\(?\s*Request(\.Form|\.QueryString|\.Item)?\s*\(/ nocase
        $asp2 = /Server\.CreateObject\(\s*"WScript\.Shell"\s*\)/ nocase
    condition:
        any of them
}

rule encoded_powershell
{
    meta:
        description = "PowerShell started with an encoded command"
        action = "block"
        reason = "malicious_content"
        severity = "high"
    strings:
        $a = /powershell(\.exe)?\s+(-[a-z]+\s+)*-(e|en|enc|encodedcommand)\s+[A-Za-z0-9+\/=]{16,}/ nocase
    condition:
        $a
}

rule windows_executable
{
    meta:
        description = "Windows executable (PE) file"
        action = "block"
        reason = "malicious_content"
        severity = "high"
    strings:
        $dos = "This program cannot be run in DOS mode"
    condition:
        uint16(0) == 0x5A4D and $dos
}

rule elf_executable
{
    meta:
        description = "Linux executable (ELF) file"
        action = "block"
        reason = "malicious_content"
        severity = "high"
    condition:
        uint32(0) == 0x464C457F
}
