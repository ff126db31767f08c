"""jupyter_kernel_test's protocol checks against the tunebook kernel.

Run by tests/kernel-jupyter.test.ts, which installs the kernel spec in a temporary prefix and
points JUPYTER_PATH at it: python3 -m unittest discover -s tests/kernel -p test_protocol.py
"""
import unittest

import jupyter_kernel_test


class TunebookKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "tunebook"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'
    code_generate_error = 'throw new Error("boom")'

    completion_samples = [{"text": "Math.ab", "matches": {"abs"}}]
    complete_code_samples = ["1 + 1", "const x = 1;", "function f() { return 1 }"]
    incomplete_code_samples = ["function f() {", "1 +", "[1, 2,"]
    invalid_code_samples = ["let = ;", "}}", "const const = 1"]

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "[1, 2, 3].length", "result": "3"},
        {"code": '"tune" + "book"', "result": "'tunebook'"},
    ]
    # IPython's glob: "?" stands for the "*" of "6 * 7".
    code_history_pattern = "6 ? 7"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {
            "code": 'import * as tslab from "tslab"; tslab.display.html("<b>hi</b>")',
            "mime": "text/html",
        },
        {
            "code": 'import { display } from "tunebook/kernel"; display([{ a: 1, b: "x" }])',
            "mime": "text/html",
        },
    ]
    code_inspect_sample = "Math.max"
    code_clear_output = 'import { clearOutput } from "tunebook/kernel"; clearOutput()'


if __name__ == "__main__":
    unittest.main()
