print("witchbolt-bench")
