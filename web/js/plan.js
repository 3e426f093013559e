// ACE++ for ComfyUI, frontend, the layout preview's second step: the plan. No sizing rule lives in the frontend:
// the numbers are the answer of the pack's route POST /acepp/plan (nodes/routes.py), which runs the canvas node's
// own Python code (lcu/preview.py) on the sizes gather.js measured.
import { api } from "./shared.js";

const PLAN_ROUTE = "/acepp/plan";

/** The route's answer for a request of measure(), with the request kept in it (the browser tests read what was
 * sent): status ok (canvas, target, references, tokens, warnings ...), unknown or at_run (a message), or error
 * (the node's own [ACE++] message, or why the server could not answer; retry: ask again later). */
export async function plan(request) {
  let response;
  try {
    response = await api.fetchApi(PLAN_ROUTE, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
  } catch (err) {
    return { status: "error", error: `the server did not answer (${err.message})`, retry: true, request };
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (response.status === 200 && answer) return { ...answer, request };
  const error = answer?.error ?? `${PLAN_ROUTE} answered HTTP ${response.status} (is the pack up to date?)`;
  return { status: "error", error, request };
}
