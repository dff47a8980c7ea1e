print("calltrail")
