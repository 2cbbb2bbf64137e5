"""newsarchive: the Scrapy side (spiders, pipelines, the command line)."""
