// Active content in PDFs. These are not refused outright: the disarm step rewrites the PDF
// without them and records what it removed, so the finding explains what happened.
private rule is_pdf
{
    strings:
        $hdr = "%PDF-"
    condition:
        $hdr in (0..1024)
}

rule pdf_javascript
{
    meta:
        description = "PDF carries JavaScript"
        action = "disarm"
        severity = "medium"
    strings:
        $js1 = "/JavaScript"
        $js2 = /\/JS[\s\/\(<\[]/
    condition:
        is_pdf and any of them
}

rule pdf_open_action
{
    meta:
        description = "PDF runs an action when opened"
        action = "disarm"
        severity = "low"
    strings:
        $a = "/OpenAction"
        $b = /\/AA[\s\/<]/
    condition:
        is_pdf and any of them
}

rule pdf_launch
{
    meta:
        description = "PDF can launch a program"
        action = "disarm"
        severity = "high"
    strings:
        $a = "/Launch"
    condition:
        is_pdf and $a
}

rule pdf_embedded_file
{
    meta:
        description = "PDF carries embedded files"
        action = "disarm"
        severity = "medium"
    strings:
        $a = "/EmbeddedFile"
    condition:
        is_pdf and $a
}

rule pdf_xfa
{
    meta:
        description = "PDF carries an XFA form"
        action = "disarm"
        severity = "low"
    strings:
        $a = "/XFA"
    condition:
        is_pdf and $a
}
