// The EICAR anti-virus test file: every scanner must flag it, so it proves the chain works.
rule eicar_test_file
{
    meta:
        description = "EICAR anti-virus test string"
        action = "block"
        reason = "malicious_content"
        severity = "high"
    strings:
        $head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
        $tail = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $head and $tail
}
