export interface Page {
  status: number;
  location: string | null;
  body: string;
  url: string;
}
export interface RequestInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}
export function browser(options?: { sameSite?: string[] }): (url: string, init?: RequestInit) => Promise<Page>;
