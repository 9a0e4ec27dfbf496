from ganvas.cli import main

main(prog_name="ganvas")
