
name = "x"
