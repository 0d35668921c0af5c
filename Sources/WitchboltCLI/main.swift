print("witchbolt")
