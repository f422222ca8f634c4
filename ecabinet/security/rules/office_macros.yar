// Office documents with macros are refused: save them as .docx/.xlsx/.pptx without macros.
// Names of ZIP members are stored uncompressed, so these match the archive itself; the
// content-type rule matches the decompressed [Content_Types].xml the scanner feeds in.
rule office_vba_project
{
    meta:
        description = "Office document contains a VBA macro project"
        action = "block"
        reason = "office_macros"
        severity = "high"
    strings:
        $name = "vbaProject.bin" nocase
        $ctype = "application/vnd.ms-office.vbaProject" nocase
        $macro_main = "macroEnabled.main+xml" nocase
    condition:
        any of them
}

rule ole_compound_inside_ooxml
{
    meta:
        description = "Legacy OLE container inside a document part (often macros or exploits)"
        action = "block"
        reason = "office_macros"
        severity = "medium"
    strings:
        $ole = { D0 CF 11 E0 A1 B1 1A E1 }
        $vba = "_VBA_PROJECT" wide ascii
    condition:
        $ole at 0 and $vba
}
