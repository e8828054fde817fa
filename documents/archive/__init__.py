"""档案: the electronic archive (DA/T 22-2015 filing, DA/T 46 metadata, 四性 checks, BagIt).

It reads the 公文 flow's models; the flow never imports it. Its own Django app (label
`archive`) so that its migrations stay apart from the flow's.
"""
