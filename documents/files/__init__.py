"""公文 as files: downloads (PDF/OFD/.docx), .docx import, seals and 用印, signature verification.

actions.py holds the check_*/do_* actions; api.py the /api/documents/files/ router; views.py the
verification page; seals.py the 印章管理 page and the detail page's files part; urls.py the pages.
"""
